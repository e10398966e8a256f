#!/bin/bash
# Starts the system services the default configuration uses, when they are not running:
# MariaDB for WordPress sites' databases (by default Hostplane makes its own account there, as
# root through /run/mysqld/mysqld.sock; HOSTPLANE_SITE_DB_URL names another account instead), and,
# with HOSTPLANE_RUNTIME=docker, a Docker engine and the runtime's images (built when missing;
# see scripts/docker-engine.sh and scripts/build-images.sh).
set -eu

here=$(dirname "$0")

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_mariadb() {
  port_open 3306 && return 0
  echo "starting MariaDB"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start mariadb
  else
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  fi
  for _ in $(seq 100); do
    port_open 3306 && return 0
    sleep 0.1
  done
  echo "MariaDB did not start on 127.0.0.1:3306" >&2
  exit 1
}

start_mariadb
if [ "${HOSTPLANE_RUNTIME:-local}" = docker ]; then
  "$here/docker-engine.sh" "$here/build-images.sh"
fi
