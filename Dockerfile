# psflow's image: the worker (`psflow worker --queues …`), the gateway and the codec server, one image.
# Build:  docker build -t psflow:dev .      (docs/deploy.md; nothing in this repository builds or pulls it)
# Two stages: the first builds wheels for psflow and its dependencies, the second installs only those
# wheels, offline, into a slim Python with no compiler, and runs as an unprivileged user. No secret is
# baked in: keys, tokens and the database URL come from the environment or mounted files at run time.
FROM python:3.12.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md worker.py cli.py ./
COPY canonical ./canonical
COPY connectors ./connectors
COPY activities ./activities
COPY workflows ./workflows
COPY store ./store
COPY gateway ./gateway
COPY stack ./stack
COPY bench ./bench
COPY commands ./commands
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.12.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PSFLOW_DATA_DIR=/var/lib/psflow
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/psflow --create-home --shell /usr/sbin/nologin psflow
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "psflow[postgres]==0.1.0"
USER 10001:10001
WORKDIR /var/lib/psflow
# gateway, codec server, worker metrics (PSFLOW_METRICS_ADDRESS)
EXPOSE 8701 8702 9464
# Exec form: the psflow script is PID 1 and receives SIGTERM itself, so the worker drains
# (graceful_shutdown_s) before the orchestrator's grace period ends.
ENTRYPOINT ["psflow"]
CMD ["worker"]
