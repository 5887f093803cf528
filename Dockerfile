# The ticketrush service: the HTTP API and the dashboard on port 8000, runs and results kept in the /app/data volume.
#   docker build -t ticketrush .
#   docker run --rm -p 8000:8000 -v ticketrush-data:/app/data ticketrush
FROM python:3.11.14-slim-bookworm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TICKETRUSH_DATA_DIR=/app/data

# tini is PID 1: it passes signals on to the server and reaps the buyer processes of finished runs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

# The service runs as uid 10001 and writes only to /app/data; the code stays owned by root.
RUN groupadd --gid 10001 ticketrush \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin ticketrush \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

WORKDIR /app

# Dependencies only, read from pyproject.toml at the versions in constraints.txt: this layer is reused until
# either changes.
COPY pyproject.toml constraints.txt ./
RUN python -m venv /opt/venv \
    && python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
    | /opt/venv/bin/pip install --no-cache-dir --constraint constraints.txt --requirement /dev/stdin

# Then the project itself, without touching the dependencies (and without the build's leftovers).
COPY app/ ./app/
COPY workers/ ./workers/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info

VOLUME ["/app/data"]
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["ticketrush", "serve", "--host", "0.0.0.0", "--port", "8000"]
