#!/bin/sh
# Debian packages the sandbox, the self-tests and the benchmark (dig, openssl, curl, ssh; ip for the sandbox's bastion; python3-lasso for its SAML federation) need. Installs only what is missing; needs root
# for that (a non-root user is told what to install). Safe to run again.
set -eu
PACKAGES="nginx dnsmasq-base openssh-server openssh-client sudo postgresql-15 postgresql-client-15 curl dnsutils openssl iproute2 python3-lasso"
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-packages: missing Debian packages:$missing (run as root: apt-get install -y$missing)" >&2
    exit 1
fi
echo "system-packages: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
