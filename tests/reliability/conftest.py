"""Reliability fixtures: the HTTP service tests' real servers and in-process clients, reused as they are.

tests/app/conftest.py defines them for its own folder; it is loaded here under another module name so that the
same fixtures (with their checks that no process is left behind) serve this folder too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

APP_TESTS = Path(__file__).resolve().parents[1] / "app"
sys.path.insert(0, str(APP_TESTS))  # live_server, as the app tests import it


def _load_app_fixtures() -> object:
    spec = importlib.util.spec_from_file_location("app_tests_conftest", APP_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_app_fixtures = _load_app_fixtures()
start_server = _app_fixtures.start_server  # type: ignore[attr-defined]
make_client = _app_fixtures.make_client  # type: ignore[attr-defined]
no_leftover_children = _app_fixtures.no_leftover_children  # type: ignore[attr-defined]
