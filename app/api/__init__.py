"""The HTTP face: dependencies, error translation and one router per resource."""
