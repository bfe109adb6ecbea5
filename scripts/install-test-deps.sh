#!/usr/bin/env bash
# Install what the test suite needs from Debian: `prometheus` (the server and `promtool`
# that tests/prometheus runs for real), `victoria-metrics` (single-node: the remote TSDB
# tests/scaleout runs), `chromium` and `chromium-driver` (the headless browser tests/console
# drives with selenium) and `tmux` (the terminal `gputel top` is tested in).
# Idempotent, quiet and instant when every command is already on PATH. Runs as root (CI,
# containers) without sudo, or through `sudo -n` when not root.
set -euo pipefail
packages=(prometheus victoria-metrics chromium chromium-driver tmux)
commands=(prometheus promtool victoria-metrics chromium chromedriver tmux)
missing() {
    local c
    for c in "${commands[@]}"; do
        command -v "$c" >/dev/null 2>&1 || return 0
    done
    return 1
}
if ! missing; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
else
    echo "install-test-deps: installing the Debian packages ${packages[*]} needs root or sudo" >&2
    exit 1
fi
apt_get=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0)
# A fresh machine may have no package lists, an old one stale lists: refresh once when
# a package is unknown or the install fails, then install them without their recommends
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
if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
    quietly "${apt_get[@]}" update
fi
if ! "${apt_get[@]}" install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    quietly "${apt_get[@]}" update
    quietly "${apt_get[@]}" install -y --no-install-recommends "${packages[@]}"
fi
if missing; then
    echo "install-test-deps: one of ${commands[*]} is still missing after apt-get install" >&2
    exit 1
fi
echo "install-test-deps: $(prometheus --version 2>&1 | head -n1); $(victoria-metrics -version 2>&1 | head -n1); $(chromium --version); $(tmux -V)"
