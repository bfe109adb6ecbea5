# syntax=docker/dockerfile:1
# The gputel agent. Build from the repository root:
#   docker build -f daemonset/images/agent.Dockerfile -t gputel-agent:0.1.0 .
#       NVIDIA and simulated GPUs (the default, last stage)
#   docker build -f daemonset/images/agent.Dockerfile --target agent-rocm \
#       --build-arg ROCM_VERSION=6.4.1 -t gputel-agent:0.1.0-rocm6.4.1 .
#       AMD GPUs, for nodes whose amdgpu driver stack is ROCm 6.4.1

# The agent's spool (unacknowledged frames) defaults to /var/lib/gputel-agent/spool, writable by
# the image's user; the DaemonSet mounts a volume there and sets GPUTEL_SPOOL_DIR itself.

ARG PYTHON_VERSION=3.11

# --- wheels: gputel and every dependency, built once ---------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cli cli
COPY agent agent
COPY collector collector
COPY proto proto
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- agent-rocm: AMD SMI of one ROCm release -------------------------------------------------
# The PyPI amdsmi package is only the Python binding: libamd_smi.so comes from ROCm's
# amd-smi-lib, and the two must be the same release as the node's driver stack. Ubuntu 24.04
# because AMD publishes amd-smi-lib for it; its Python is 3.12, so the dependencies are
# installed for it from PyPI, gputel itself from the pure-Python wheel built above.
FROM ubuntu:24.04 AS agent-rocm
ARG ROCM_VERSION=6.4.1
ENV ROCM_PATH=/opt/rocm \
    PATH=/opt/gputel/bin:$PATH \
    GPUTEL_SPOOL_DIR=/var/lib/gputel-agent/spool \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg python3 python3-venv \
 && mkdir -p /etc/apt/keyrings \
 && curl -fsSL https://repo.radeon.com/rocm/rocm.gpg.key \
      | gpg --dearmor -o /etc/apt/keyrings/rocm.gpg \
 && echo "deb [arch=amd64 signed-by=/etc/apt/keyrings/rocm.gpg]" \
      "https://repo.radeon.com/rocm/apt/${ROCM_VERSION} noble main" \
      > /etc/apt/sources.list.d/rocm.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends amd-smi-lib \
 && apt-get purge -y curl gnupg && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY --from=wheels /wheels /wheels
# The `amd` extra brings amdsmi; the second requirement pins it to this image's ROCm release.
# gputel comes from its wheel file (never from an index); its dependencies from PyPI.
RUN python3 -m venv /opt/gputel \
 && /opt/gputel/bin/pip install --no-cache-dir \
      "$(ls /wheels/gputel-*-py3-none-any.whl)[amd]" "amdsmi==${ROCM_VERSION}" \
 && rm -rf /wheels \
 && mkdir -p /var/lib/gputel-agent && chown 65532:65532 /var/lib/gputel-agent
USER 65532:65532
EXPOSE 9401
ENTRYPOINT ["gputel"]
CMD ["agent"]

# --- agent: NVIDIA (NVML) and simulated GPUs --------------------------------------------------
# Nothing of NVIDIA's is in the image: on a GPU node the NVIDIA container toolkit injects
# libnvidia-ml.so.1 and the device nodes at start, as the two variables below ask (the
# DaemonSet sets them too, with runtimeClassName: nvidia). nvidia-ml-py, the binding, is a
# dependency of gputel.
FROM python:${PYTHON_VERSION}-slim-bookworm AS agent
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=utility \
    GPUTEL_SPOOL_DIR=/var/lib/gputel-agent/spool \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels gputel \
 && rm -rf /wheels \
 && mkdir -p /var/lib/gputel-agent && chown 65532:65532 /var/lib/gputel-agent
USER 65532:65532
EXPOSE 9401
ENTRYPOINT ["gputel"]
CMD ["agent"]
