# syntax=docker/dockerfile:1
# The gputel collector. Build from the repository root:
#   docker build -f daemonset/images/collector.Dockerfile -t gputel-collector:0.1.0 .
# No GPU library: the collector only receives, stores and serves.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cli cli
COPY agent agent
COPY collector collector
COPY proto proto
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:${PYTHON_VERSION}-slim-bookworm AS collector
ENV GPUTEL_DATA_DIR=/var/lib/gputel \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels gputel \
 && rm -rf /wheels \
 && mkdir -p /var/lib/gputel && chown 65532:65532 /var/lib/gputel
USER 65532:65532
WORKDIR /var/lib/gputel
# The StatefulSet mounts its PersistentVolumeClaim here (and sets GPUTEL_DATA_DIR too).
VOLUME ["/var/lib/gputel"]
EXPOSE 50051 8080
ENTRYPOINT ["gputel"]
CMD ["collector"]
