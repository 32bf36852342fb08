# syntax=docker/dockerfile:1
#
# The sla-worker production image. One image, several roles: the command decides what a
# container is (see docker-compose.yml and docs/deploy.md):
#
#   sla-worker db upgrade                  migrate the database (once per release)
#   celery -A worker.celeryapp worker      a Celery worker (run as many as you like)
#   celery -A worker.celeryapp beat        the scheduler (exactly one)
#   sla-worker metrics serve               the Prometheus endpoint
#
# Build:  docker build -t sla-worker:local .
# There is no HEALTHCHECK here because the right check depends on the role; the compose file
# gives each service its own.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build stage: install the package and its dependencies into a virtual environment -------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/sla-worker/venv
ENV PATH=/opt/sla-worker/venv/bin:$PATH

WORKDIR /src
# Only what `pip install .` needs (the .dockerignore allows little else in).
COPY pyproject.toml README.md ./
COPY worker ./worker
# Runtime dependencies only: the `test` extra is not installed.
RUN pip install .

# --- runtime stage: the venv, an unprivileged user ----------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="sla-worker" \
      org.opencontainers.image.description="SLA monitoring worker for NHS informatics services"

# SLA_METRICS_ADDR: inside a container the loopback default would be unreachable from outside
# it; publishing the port (or not) is what decides who can reach the endpoint.
ENV PATH=/opt/sla-worker/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SLA_CONFIG_DIR=/etc/sla-worker \
    SLA_REPORTS_DIR=/var/lib/sla-worker/reports \
    SLA_METRICS_ADDR=0.0.0.0:9464

# A fixed uid/gid so that files on volumes and bind mounts have a predictable owner.
RUN groupadd --system --gid 10001 sla \
 && useradd --system --uid 10001 --gid sla --home-dir /var/lib/sla-worker --no-create-home \
        --shell /usr/sbin/nologin sla \
 && install -d -o sla -g sla -m 0750 \
        /var/lib/sla-worker \
        /var/lib/sla-worker/var \
        /var/lib/sla-worker/var/incoming \
        /var/lib/sla-worker/reports \
 && install -d -m 0755 /etc/sla-worker

COPY --from=build /opt/sla-worker/venv /opt/sla-worker/venv
# The default beat schedule is installed with the package (worker/default_schedule/) and used
# while SLA_SCHEDULES_DIR is unset; mount a folder and set that variable to replace it.
# The example trust, for trying the image out
# (docker run --rm -e SLA_CONFIG_DIR=/opt/sla-worker/config/example IMAGE sla-worker check-config).
# It is deliberately NOT the default: SLA_CONFIG_DIR points at /etc/sla-worker, which you mount.
COPY config/example/ /opt/sla-worker/config/example/

# Relative paths in settings and configuration (the file drop `var/incoming`, the embedded
# SQLite default `var/sla.sqlite`, the outbox `var/outbox`) land here; mount a volume on it.
WORKDIR /var/lib/sla-worker
USER sla:sla

EXPOSE 9464
CMD ["sla-worker", "--help"]
