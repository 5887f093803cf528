"""The Docker image, checked without a Docker engine.

The Dockerfile is linted with hadolint and read instruction by instruction. Its install steps are replayed in a
temporary directory that stands in for the image's file system: the COPY steps copy the build context (the
repository less what .dockerignore keeps out), the `pip install` RUN steps run as written, and the image's
ENTRYPOINT (Debian's tini) and CMD then run against the result as the image's USER (this needs root, and tini
installed: marked `image`), with the HEALTHCHECK and a `docker stop`. The apt-get and useradd steps are not
replayed; their content is checked as text.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HADOLINT = Path(sys.executable).parent / "hadolint"
CONTAINER_PORT = "8000"
DATA_DIR = "/app/data"
# Absolute paths of the image that the replay moves into its stand-in root.
IMAGE_PATHS = ("/opt/venv", "/app")
# The PATH of the python base image, less /usr/local/bin (its python).
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
DOCKER_STOP_GRACE_S = 10.0  # `docker stop` sends SIGTERM, then SIGKILL after this


class Instruction(NamedTuple):
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined and comments dropped, as Docker reads them."""
    instructions = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1].rstrip() + " "
            continue
        keyword, _, args = (logical + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        logical = ""
    return instructions


DOCKERFILE = parse_dockerfile((ROOT / "Dockerfile").read_text())


def only(keyword: str) -> str:
    """The arguments of the one instruction `keyword`."""
    found = [i.args for i in DOCKERFILE if i.keyword == keyword]
    assert len(found) == 1, f"expected exactly one {keyword}, found {len(found)}"
    return found[0]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    assert all(isinstance(part, str) for part in value)
    return value


def healthcheck_command() -> list[str]:
    command = only("HEALTHCHECK").partition("CMD ")[2]
    assert command, "HEALTHCHECK has no CMD"
    return exec_form(command)


def copy_sources(args: str) -> list[str]:
    """The sources of a COPY, without its options and its destination."""
    return [arg for arg in shlex.split(args) if not arg.startswith("--")][:-1]


def runs() -> list[str]:
    return [i.args for i in DOCKERFILE if i.keyword == "RUN"]


def with_port(args: list[str], port: int) -> list[str]:
    return [re.sub(rf"\b{CONTAINER_PORT}\b", str(port), arg) for arg in args]


# --- .dockerignore -------------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> str:
    """A .dockerignore pattern as a regex over slash-separated context paths."""
    out = []
    for part in re.split(r"(\*\*/|\*\*|\*|\?|\[[^\]]+\])", pattern):
        if part.startswith("[") and part.endswith("]"):
            out.append("[^" + part[2:] if part.startswith("[!") else part)
        else:
            out.append({"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part)))
    return "".join(out) + "(?:/.*)?"  # matching a folder excludes everything inside it


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((keep, re.compile(_glob_regex(pattern))))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether `path` (relative to the repository) is sent to the build: the last matching rule decides."""
    sent = True
    for keep, regex in rules:
        if regex.fullmatch(path):
            sent = keep
    return sent


def build_context() -> list[str]:
    rules = dockerignore_rules()
    files = []
    for folder, dirs, names in os.walk(ROOT):
        rel_folder = os.path.relpath(folder, ROOT)
        dirs[:] = [d for d in dirs if in_context(os.path.normpath(os.path.join(rel_folder, d)), rules)]
        files += [p for n in names if in_context(p := os.path.normpath(os.path.join(rel_folder, n)), rules)]
    return sorted(files)


def test_dockerignore_keeps_repository_state_and_runtime_data_out() -> None:
    rules = dockerignore_rules()
    for path in (
        ".git/config",
        ".venv/bin/python",
        "data/ticketrush.sqlite3",
        "data/runs/7/db.json",
        "data/README.md",
        "app/__pycache__/main.cpython-311.pyc",
        "workers/__pycache__/db.cpython-311.pyc",
        "tests/test_dockerfile.py",
        ".pytest_cache/README.md",
        ".mypy_cache/3.11/app.json",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "ticketrush.egg-info/PKG-INFO",
        "bench/results.json",
    ):
        assert not in_context(path, rules), f"{path} would be sent to the Docker build"
    sent = build_context()
    leaked = [p for p in sent if p.split("/")[0] in {".git", ".venv", "data", "tests"} or "__pycache__" in p]
    assert not leaked, f"these files of the working tree would be sent to the Docker build: {leaked[:10]}"


def test_dockerignore_keeps_what_the_image_copies() -> None:
    sent = set(build_context())
    sources = [src for i in DOCKERFILE if i.keyword == "COPY" for src in copy_sources(i.args)]
    assert sources, "the Dockerfile copies nothing"
    for src in sources:
        path = os.path.normpath(src)
        assert any(p == path or p.startswith(path + "/") for p in sent), f"COPY {src}: not in the build context"
    for package in ("app", "workers"):
        modules = {str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts}
        assert modules <= sent, f"left out of the build context: {sorted(modules - sent)}"


# --- the Dockerfile as text -------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    for n, line in enumerate(lines):
        if "hadolint ignore" in line:
            reason = lines[n - 1].strip() if n else ""
            assert reason.startswith("#") and len(reason) > 10, f"line {n + 1}: ignored rule without a reason above"
    assert not (ROOT / ".hadolint.yaml").exists(), "rules are ignored only in the Dockerfile, each with a reason"
    lint = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "style", "--format", "json", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert lint.returncode == 0 and json.loads(lint.stdout) == [], lint.stdout + lint.stderr


def test_hadolint_flags_unpinned_packages(tmp_path: Path) -> None:
    """The lint above is real: the same call rejects a Dockerfile with the usual faults."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y curl\nRUN pip install fastapi\n")
    lint = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "style", "--format", "json", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    codes = {finding["code"] for finding in json.loads(lint.stdout)}
    assert lint.returncode != 0
    assert {"DL3008", "DL3009", "DL3013", "DL3015", "DL3042"} <= codes, codes


def test_dockerfile_pins_a_slim_python_base() -> None:
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", only("FROM")), only("FROM")


def test_dockerfile_runs_as_numeric_non_root_user_who_owns_the_data_volume() -> None:
    user, _, group = only("USER").partition(":")
    assert user.isdigit() and int(user) > 0, f"USER {only('USER')}: must be a numeric non-root uid"
    assert not group or group.isdigit()
    assert exec_form(only("VOLUME")) == [DATA_DIR]
    assert f"TICKETRUSH_DATA_DIR={DATA_DIR}" in shlex.split(only("ENV"))
    setup = " ".join(runs())
    assert re.search(rf"useradd [^&]*--uid {user}\b", setup), "the USER is not created"
    owner = f"{user}:{group}" if group else user
    assert re.search(rf"chown {owner}(:\d+)? {DATA_DIR}\b", setup), f"{DATA_DIR} is not owned by {owner}"


def test_dockerfile_runs_tini_as_pid_1() -> None:
    assert exec_form(only("ENTRYPOINT")) == ["/usr/bin/tini", "--"]
    apt = next(r for r in runs() if "apt-get install" in r)
    assert "--no-install-recommends" in apt
    assert re.search(r"\btini=\S+", apt), "tini is installed without a pinned version"
    assert "rm -rf /var/lib/apt/lists/*" in apt


def test_dockerfile_serves_on_all_interfaces_and_checks_health() -> None:
    assert only("EXPOSE") == CONTAINER_PORT
    command = exec_form(only("CMD"))
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == CONTAINER_PORT
    health = healthcheck_command()
    assert health[0] == "python" and f"127.0.0.1:{CONTAINER_PORT}/healthz" in health[-1]


def test_dockerfile_installs_dependencies_before_copying_code() -> None:
    """Editing the code must not reinstall the dependencies: they have their own layer, built from
    pyproject.toml and the pinned versions in constraints.txt alone."""
    installs = [n for n, i in enumerate(DOCKERFILE) if i.keyword == "RUN" and "pip install" in i.args]
    assert len(installs) == 2, "expected one install of the dependencies, then one of the project"
    deps, project = (DOCKERFILE[n].args for n in installs)
    copied_first = [copy_sources(i.args) for i in DOCKERFILE[: installs[0]] if i.keyword == "COPY"]
    assert copied_first == [["pyproject.toml", "constraints.txt"]], f"copied before the dependencies: {copied_first}"
    assert "--constraint constraints.txt" in deps
    assert "--no-deps" not in deps and "--no-deps" in project
    copied_between = [copy_sources(i.args) for i in DOCKERFILE[installs[0] : installs[1]] if i.keyword == "COPY"]
    assert sorted(src for c in copied_between for src in c) == ["app/", "workers/"]
    assert all("--no-cache-dir" in r for r in (deps, project))


# --- docker-compose.yml ------------------------------------------------------------------------------------------


def test_compose_file_runs_the_image_with_a_named_volume_healthcheck_and_restart_policy() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["ticketrush"]
    assert service["build"] == "."
    assert f"{CONTAINER_PORT}:{CONTAINER_PORT}" in service["ports"]
    assert service["restart"] == "unless-stopped"
    (volume,) = service["volumes"]
    name, _, target = volume.partition(":")
    assert target == DATA_DIR
    assert name in compose["volumes"], f"{name} is not a named volume"
    assert service["healthcheck"]["test"] == ["CMD", *healthcheck_command()], "compose and image health checks differ"


def test_compose_file_gives_the_app_postgres_and_redis_servers_it_waits_for() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    app = services["ticketrush"]
    postgres, redis = services["postgres"], services["redis"]
    assert postgres["image"].split(":")[0] == "postgres" and redis["image"].split(":")[0] == "redis"  # official
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    env = postgres["environment"]
    assert app["environment"]["TICKETRUSH_POSTGRES_URL"] == (
        f"postgresql://postgres:{env['POSTGRES_PASSWORD']}@postgres:5432/{env['POSTGRES_DB']}"
    )
    assert app["environment"]["TICKETRUSH_REDIS_URL"] == "redis://redis:6379/0"
    assert "ports" not in postgres and "ports" not in redis  # reached by the app alone, over compose's network
    for service in (postgres, redis):
        (volume,) = service["volumes"]
        assert volume.partition(":")[0] in compose["volumes"], f"{volume} is not a named volume"


def test_compose_profile_dask_runs_a_scheduler_and_workers_of_the_apps_image() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    image = services["ticketrush"]["image"]
    assert scheduler["image"] == worker["image"] == image  # the workers import the engine the app runs
    assert scheduler["profiles"] == worker["profiles"] == ["dask"]  # `docker compose up` alone starts neither
    assert scheduler["command"][:2] == ["dask", "scheduler"] and "8786" in scheduler["command"]
    assert worker["command"][:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert set(worker["depends_on"]) == {"dask-scheduler", "postgres", "redis"}
    assert services["ticketrush"]["environment"]["TICKETRUSH_DASK_SCHEDULER"] == "${TICKETRUSH_DASK_SCHEDULER:-}"


# --- the image's install and start commands, replayed -------------------------------------------------------------


def image_path(path: str, root: Path) -> str:
    """Moves the image's own paths (/app, /opt/venv) under `root`; system paths stay."""
    pattern = r"(?<![\w./-])(" + "|".join(map(re.escape, IMAGE_PATHS)) + r")(?![\w.-])"
    return re.sub(pattern, lambda m: str(root) + m.group(1), path)


def copy_from_context(sources: list[str], dest: Path, context: set[str]) -> None:
    for src in sources:
        src = os.path.normpath(src)
        files = [p for p in context if p == src or p.startswith(src + "/")]
        assert files, f"COPY {src}: nothing in the build context"
        for file in files:
            target = dest / (Path(file).name if file == src else os.path.relpath(file, src))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / file, target)


# Debian's python3.11 stands in for the base image's /usr/local/bin/python: like it, any user can run it. The
# interpreter running the tests may sit where only root can reach it (pyenv's, under /root).
SYSTEM_PYTHON = Path("/usr/bin/python3.11")


def base_python() -> Path:
    ensurepip = [SYSTEM_PYTHON, "-m", "ensurepip", "--version"]
    if SYSTEM_PYTHON.exists() and subprocess.run(ensurepip, capture_output=True, timeout=60).returncode == 0:
        return SYSTEM_PYTHON
    return Path(sys.base_prefix) / "bin" / "python3"


class Replay(NamedTuple):
    env: dict[str, str]  # the image's environment, its paths moved under the stand-in root
    workdir: Path


def replay_build(root: Path) -> Replay:
    """Replays ENV, WORKDIR, COPY and the `pip install` RUN steps under `root`, in the Dockerfile's SHELL."""
    shell = exec_form(only("SHELL"))
    env = {k: v for k, v in os.environ.items() if k.startswith(("PIP_", "HOME", "LANG", "SSL_", "TMP"))}
    base_bin = root / "usr" / "local" / "bin"  # the base image's python, in the stand-in root
    base_bin.mkdir(parents=True)
    for name in ("python", "python3"):
        (base_bin / name).symlink_to(base_python())
    env["PATH"] = f"{base_bin}:{SYSTEM_PATH}"
    workdir = root
    context = set(build_context())
    replayed = 0
    for keyword, args in DOCKERFILE:
        if keyword == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                value = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
                env[key] = image_path(value, root)
        elif keyword == "WORKDIR":
            workdir = Path(image_path(args, root))
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            dest = shlex.split(args)[-1]
            target = workdir / dest if not dest.startswith("/") else Path(image_path(dest, root))
            copy_from_context(copy_sources(args), target, context)
        elif keyword == "RUN" and "pip install" in args:
            step = subprocess.run(
                [*shell, image_path(args, root)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert step.returncode == 0, f"RUN {args}\n{step.stdout[-3000:]}\n{step.stderr[-3000:]}"
            replayed += 1
    assert replayed == 2
    return Replay(env, workdir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthz_status(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(response.status)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def http_json(port: int, method: str, path: str, body: object = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def stop(server: subprocess.Popen[bytes]) -> int:
    """What `docker stop` does: SIGTERM, then SIGKILL if the server is still there after the grace period."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            return server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return server.wait(timeout=15)


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for server in started:
        stop(server)
    deadline = time.monotonic() + 5
    while (left := psutil.Process().children(recursive=True)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {[(c.pid, c.name()) for c in left]}"


class Image(NamedTuple):
    root: Path  # stands in for the image's /
    env: dict[str, str]
    workdir: Path


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    """The image's install steps replayed once for the module, in a folder the image's USER can read (pytest's
    own temporary folders are root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="ticketrush-image-"))
    root.chmod(0o755)
    try:
        env, workdir = replay_build(root)
        yield Image(root, env, workdir)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_image_install_steps_install_the_project_and_its_dependencies(image: Image, tmp_path: Path) -> None:
    env, workdir = image.env, image.workdir
    venv = Path(env["VIRTUAL_ENV"])
    check = subprocess.run([venv / "bin" / "pip", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, f"the dependency layer misses something the project needs:\n{check.stdout}"
    installed = subprocess.run(
        [venv / "bin" / "python", "-c", "import app, workers; print(app.__file__, workers.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    site = Path(installed.stdout.split()[0]).parents[1]
    assert site.is_relative_to(venv), f"app imported from {site}, not from the image's virtualenv"
    for package in ("app", "workers"):  # every file copied into the image is installed, subpackages included
        for source in (workdir / package).rglob("*"):
            if source.is_file():
                rel = source.relative_to(workdir)
                assert (site / rel).is_file(), f"{rel} is not installed in the image"
    command = exec_form(only("CMD"))
    program = shutil.which(command[0], path=env["PATH"])
    assert program and Path(program).is_relative_to(venv), f"{command[0]} is not the image's console script"


TINI = Path(exec_form(only("ENTRYPOINT"))[0])
LONG_RUN = {"buyers": 20, "tickets": 1, "think_ms": 60_000, "hold_ms": 0}


def start_as_the_image_does(image: Image, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """ENTRYPOINT + CMD as the image's USER, on `port`. tini is not PID 1 here, as it is in a container: as a
    child subreaper (TINI_SUBREAPER) it adopts and reaps orphans as PID 1 would."""
    uid, _, gid = only("USER").partition(":")
    env = {**image.env, "HOME": str(image.workdir), "TINI_SUBREAPER": "1"}
    env["TICKETRUSH_DATA_DIR"] = image_path(DATA_DIR, image.root)
    command = [*exec_form(only("ENTRYPOINT")), *with_port(exec_form(only("CMD")), port)]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            cwd=image.workdir,
            env=env,
            user=int(uid),
            group=int(gid or uid),
            extra_groups=[],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_healthy(server: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while (status := healthz_status(port)) != 200:
        assert server.poll() is None, f"the server exited with {server.returncode}:\n{_log(log_path)}"
        assert time.monotonic() < deadline, f"/healthz not 200 after 60 s (last: {status}):\n{_log(log_path)}"
        time.sleep(0.1)


def wait_simulation(port: int, sim_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while not done(simulation := http_json(port, "GET", f"/simulations/{sim_id}")):
        assert time.monotonic() < deadline, f"the simulation did not get there in 60 s: {simulation}"
        time.sleep(0.1)
    return simulation


def marked(data_dir: str) -> list[psutil.Process]:
    """Live processes started with TICKETRUSH_DATA_DIR=data_dir: the server, its runs and their buyers."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("TICKETRUSH_DATA_DIR") == data_dir and process.status() != "zombie":
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
@pytest.mark.image
@pytest.mark.timeout(600)
@pytest.mark.skipif(os.geteuid() != 0, reason="running the image's USER needs root")
@pytest.mark.skipif(not TINI.exists(), reason=f"needs Debian's tini at {TINI}: apt-get install tini")
def test_image_serves_under_tini_as_its_user_and_stops_its_runs_on_sigterm(
    image: Image, tmp_path: Path, servers: list[subprocess.Popen[bytes]]
) -> None:
    user = only("USER")
    uid, gid = int(user.partition(":")[0]), int(user.partition(":")[2] or user.partition(":")[0])
    runs = subprocess.run([image.env["VIRTUAL_ENV"] + "/bin/python", "-c", ""], user=uid, group=gid, timeout=60)
    if runs.returncode != 0:
        pytest.skip(f"the replay's python ({base_python()}) cannot be run by uid {uid}: apt-get install python3-venv")
    data_dir = Path(image_path(DATA_DIR, image.root))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chown(data_dir, uid, gid)  # as the image's RUN step does (checked as text above)
    port, log_path = free_port(), tmp_path / "server.log"
    tini = start_as_the_image_does(image, port, log_path)
    servers.append(tini)
    wait_healthy(tini, port, log_path)

    (server,) = psutil.Process(tini.pid).children()
    assert server.uids().real == uid and server.gids().real == gid, "the server does not run as the image's USER"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=5) as docs:
        assert docs.status == 200
    # A rush runs inside the image, and what it leaves is kept in the data volume, owned by the USER.
    created = http_json(port, "POST", "/simulations", {"buyers": 5, "tickets": 1, "lock": "file", "hold_ms": 0})
    simulation = wait_simulation(port, created["id"], lambda s: s["status"] not in ("queued", "running"))
    assert simulation["status"] == "completed", simulation
    assert simulation["result"]["tickets_sold"] == 1 and simulation["result"]["oversold"] == 0
    run_dir = data_dir / "runs" / created["id"]
    assert run_dir.stat().st_uid == uid and (run_dir / "db.json").stat().st_uid == uid
    health = with_port(healthcheck_command(), port)
    probe = [shutil.which(health[0], path=image.env["PATH"]) or health[0], *health[1:]]
    assert subprocess.run(probe, env=image.env, capture_output=True, timeout=10).returncode == 0

    # docker stop: SIGTERM to PID 1 (tini), which passes it on; the server cancels its runs and exits in time.
    busy = http_json(port, "POST", "/simulations", LONG_RUN)
    wait_simulation(port, busy["id"], lambda s: s["status"] == "running")
    deadline = time.monotonic() + 60
    while len(marked(str(data_dir))) < 2 + 1 + LONG_RUN["buyers"]:  # server, run process, launcher, buyers
        assert time.monotonic() < deadline, "the long run's buyers were not launched in 60 s"
        time.sleep(0.1)
    assert {p.uids().real for p in marked(str(data_dir))} == {uid}

    started = time.monotonic()
    tini.send_signal(signal.SIGTERM)
    code = tini.wait(timeout=30)
    took = time.monotonic() - started

    # tini exits with its child's status: uvicorn shuts down, then re-raises SIGTERM (128 + 15)
    assert code in (0, 128 + signal.SIGTERM), f"tini exited with {code}:\n{_log(log_path)}"
    assert took < DOCKER_STOP_GRACE_S, f"{took:.1f} s: docker stop would have killed it"
    assert "Application shutdown complete" in _log(log_path), _log(log_path)
    assert marked(str(data_dir)) == [], "processes of the image outlived it"
    assert subprocess.run(probe, env=image.env, capture_output=True, timeout=10).returncode != 0, (
        "the health check passes with the server down"
    )

    again = start_as_the_image_does(image, port := free_port(), log_path)
    servers.append(again)
    wait_healthy(again, port, log_path)
    stopped = http_json(port, "GET", f"/simulations/{busy['id']}")
    assert stopped["status"] == "cancelled", stopped  # stopped on purpose, not interrupted by a crash
    assert http_json(port, "GET", f"/simulations/{created['id']}") == simulation


def _log(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-4000:]
