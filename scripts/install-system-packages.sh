#!/bin/sh
# Installs the Debian packages Hostplane needs, only those that are missing.
#   runtime  what `make up` needs on the embedded default (SQLite, local runtime, HAProxy in
#            front of the managed Caddy: HOSTPLANE_EDGE_FRONT=auto);
#            with HOSTPLANE_RUNTIME=docker also the Docker engine and what `make images` uses
#   test     runtime + the servers and tools the test suite starts privately
# Services are never started on their default ports by the install: a policy-rc.d is put in place
# for the duration of the apt run, and the packaged Caddy and PowerDNS services are stopped and
# disabled, because `hostctl up` runs and supervises its own HAProxy and Caddy on the edge's
# ports and its own pdns_server (sqlite3 backend in the data directory) on the DNS port.
set -eu

profile="${1:-runtime}"

# nginx is in the same apt run as php8.2-fpm and wordpress so that it, not apache2, satisfies
# wordpress's dependency on a web server; Hostplane's edge is HAProxy in front of Caddy.
runtime_packages="caddy haproxy sqlite3 ca-certificates curl python3-venv \
  php8.2-fpm php php8.2-mysql nginx wordpress wordpress-theme-twentytwentythree \
  mariadb-server mariadb-client redis-server redis-tools pdns-server pdns-backend-sqlite3 \
  openssh-server"
docker_packages="docker.io debootstrap"
test_packages="postgresql $docker_packages busybox-static openssl pebble"
if [ "${HOSTPLANE_RUNTIME:-local}" = docker ]; then
  runtime_packages="$runtime_packages $docker_packages"
fi

case "$profile" in
  runtime) wanted="$runtime_packages" ;;
  test) wanted="$runtime_packages $test_packages" ;;
  *) echo "usage: $0 runtime|test" >&2; exit 2 ;;
esac

missing=""
for pkg in $wanted; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages:$missing — run this as root (or install them) and try again" >&2
  exit 1
fi

echo "installing Debian packages:$missing"
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now caddy.service nginx.service pdns.service haproxy.service >/dev/null 2>&1 || true
fi
