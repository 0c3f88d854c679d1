#!/bin/sh
# Fresh machine → ready to work: Debian packages (as root), tox and the project in ./.venv
# (then `. .venv/bin/activate` for pytest, inv and tox).
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    sh scripts/system-packages.sh
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    fi
fi
if [ ! -x .venv/bin/tox ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q "tox>=4.11"
fi
# The daily commands (pytest --env …, inv plan …) run from this venv: the project and its sandbox extra,
# editable, so a `git pull` needs no reinstall.
.venv/bin/pip install -q -e ".[sandbox]"
