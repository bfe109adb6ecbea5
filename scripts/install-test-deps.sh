#!/usr/bin/env bash
# Install what the test suite needs from Debian: the package `prometheus`, which brings the
# `prometheus` server and `promtool` that tests/prometheus runs for real, and
# `victoria-metrics` (single-node), the remote TSDB tests/scaleout runs.
# Idempotent, quiet and instant when both are already on PATH. Runs as root (CI,
# containers) without sudo, or through `sudo -n` when not root.
set -euo pipefail
have_all() {
    command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
        && command -v victoria-metrics >/dev/null 2>&1
}
if have_all; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
else
    echo "install-test-deps: installing the Debian package prometheus needs root or sudo" >&2
    exit 1
fi
apt_get=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0)
# A fresh machine may have no package lists, an old one stale lists: refresh once when
# the package is unknown or its install fails, then install it without its recommends
# (node-exporter is not needed).
# apt's chatter (debconf, invoke-rc.d refusing to start the service in a container) is
# shown only when a step fails.
quietly() {
    local out
    if ! out=$("$@" 2>&1); then
        echo "$out" >&2
        return 1
    fi
}
packages=(prometheus victoria-metrics)
if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
    quietly "${apt_get[@]}" update
fi
if ! "${apt_get[@]}" install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    quietly "${apt_get[@]}" update
    quietly "${apt_get[@]}" install -y --no-install-recommends "${packages[@]}"
fi
if ! have_all; then
    echo "install-test-deps: prometheus, promtool or victoria-metrics still missing after" \
        "apt-get install" >&2
    exit 1
fi
echo "install-test-deps: $(prometheus --version 2>&1 | head -n1);" \
    "$(victoria-metrics -version 2>&1 | head -n1)"
