# dummy-service image: a slim Python 3.11 runtime with a virtual environment built in a
# separate stage, so no compiler, pip cache or source tree ends up in the final image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pinned runtime dependencies in a layer of their own: rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The project itself; its dependencies are already pinned above. .dockerignore keeps the
# context down to what the package build needs. pip and setuptools are build tools: they
# leave the environment last, so the final image installs nothing at run time.
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && pip check \
    && pip uninstall --yes pip setuptools


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="dummy-service" \
      org.opencontainers.image.description="A stand-in Kafka pipeline loader for testing orchestrators, dashboards and clusters."

# A fixed numeric user, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 dummy \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin dummy

COPY --from=build /opt/venv /opt/venv

# HOME and DATA_DIR point into /tmp: the only writable place when the root filesystem is
# read-only (Kubernetes mounts an emptyDir there).
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    DATA_DIR=/tmp/dummy-service

# An empty, root-owned working directory: nothing the service user could plant is importable.
WORKDIR /app
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('METRICS_PORT', '8000'), timeout=3)"]

# Exec form: Python is PID 1 and receives SIGTERM itself, publishes `interrupted` and exits 0.
ENTRYPOINT ["python", "-m", "dummyservice"]
CMD ["--simulate-loading", "--exit-after", "30"]
