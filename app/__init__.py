"""ticketrush's faces: the HTTP service (FastAPI) and the command line, both over the engine in workers/."""
