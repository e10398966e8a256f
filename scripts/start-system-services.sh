#!/bin/bash
# Starts the system services the default configuration uses, when they are not running:
# MariaDB for WordPress sites' databases (by default Hostplane makes its own account there, as root
# through /run/mysqld/mysqld.sock; HOSTPLANE_SITE_DB_URL names another account instead).
set -eu

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 3306; then
  echo "starting MariaDB"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl start mariadb
  else
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  fi
  for _ in $(seq 100); do
    port_open 3306 && exit 0
    sleep 0.1
  done
  echo "MariaDB did not start on 127.0.0.1:3306" >&2
  exit 1
fi
