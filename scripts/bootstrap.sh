#!/bin/sh
# Fresh machine → ready to run tox: Debian packages (as root) and tox in ./.venv.
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
