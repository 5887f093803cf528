"""ticketrush's faces: the HTTP service (FastAPI) and the command line, both over the engine in workers/."""


def main() -> int:
    """The `ticketrush` command (app.cli), imported only when it runs.

    multiprocessing starts every run process by running the script that started the server again (as
    `__mp_main__`, without calling this): the script imports only this package, not the whole command line.
    """
    from app.cli import main as cli_main

    return cli_main()
