#!/bin/sh
# Makes sure a Docker engine answers for the docker runtime, starting one on this machine when
# none does, then runs COMMAND (if given) against it with DOCKER_HOST set.
#   HOSTPLANE_DOCKER_HOST or DOCKER_HOST set (in that order, as `hostctl` reads them): that engine
#     is only checked; a remote or private engine is not this script's to start.
#   Otherwise this machine's socket, HOSTPLANE_DOCKER_SOCKET (default /var/run/docker.sock):
#     `systemctl start docker` where systemd runs; elsewhere dockerd in the background, its log
#     and pid in HOSTPLANE_DOCKERD_DIR (default <HOSTPLANE_DATA_DIR or /var/lib/hostplane>/dockerd),
#     HOSTPLANE_DOCKERD_ARGS added to its flags. Stop that engine with
#     kill "$(cat /var/lib/hostplane/dockerd/dockerd.pid)"   (its containerd stops with it).
# Usage: scripts/docker-engine.sh [COMMAND [ARGS...]]
set -eu

fail() { echo "docker-engine: $*" >&2; exit 1; }
answers() { docker info >/dev/null 2>&1; }

# Waits until the engine answers; `pid` (optional): the dockerd started here, which must live.
wait_answers() {
  pid=${1:-}
  for _ in $(seq 300); do
    answers && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      fail "dockerd exited before it answered; the end of $log:
$(tail -n 20 "$log" 2>/dev/null)"
    fi
    sleep 0.2
  done
  fail "no Docker engine answered at $DOCKER_HOST within 60 s${pid:+ (dockerd $pid still runs; see $log)}"
}

start_dockerd() {  # socket path
  dir=${HOSTPLANE_DOCKERD_DIR:-${HOSTPLANE_DATA_DIR:-/var/lib/hostplane}/dockerd}
  log=$dir/dockerd.log
  mkdir -p "$dir"
  exec 9>"$dir/lock"
  flock 9  # one starter at a time: a second one waits, then finds the engine answering
  if answers; then exec 9>&-; return 0; fi
  old=$(cat "$dir/dockerd.pid" 2>/dev/null || true)
  if [ -n "$old" ] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = dockerd ]; then
    echo "waiting for the Docker engine started earlier (pid $old, log $log)"
    wait_answers "$old"
    exec 9>&-
    return 0
  fi
  echo "starting the Docker engine: dockerd on unix://$1 (log $log, pid $dir/dockerd.pid)"
  # shellcheck disable=SC2086  # HOSTPLANE_DOCKERD_ARGS is a list of flags
  setsid dockerd --host "unix://$1" --pidfile "$dir/dockerd.pid" ${HOSTPLANE_DOCKERD_ARGS:-} \
    >>"$log" 2>&1 </dev/null 9>&- &
  wait_answers $!
  exec 9>&-
}

if [ -n "${HOSTPLANE_DOCKER_HOST:-}" ]; then
  DOCKER_HOST=$HOSTPLANE_DOCKER_HOST
  if [ -n "${HOSTPLANE_DOCKER_TLS_DIR:-}" ]; then
    DOCKER_CERT_PATH=$HOSTPLANE_DOCKER_TLS_DIR DOCKER_TLS_VERIFY=1
    export DOCKER_CERT_PATH DOCKER_TLS_VERIFY
  fi
fi
command -v docker >/dev/null 2>&1 || fail "the docker client is not installed (package docker.io)"

if [ -n "${DOCKER_HOST:-}" ]; then
  export DOCKER_HOST
  answers || fail "no Docker engine answers at $DOCKER_HOST; start that engine, or unset" \
    "HOSTPLANE_DOCKER_HOST/DOCKER_HOST to use (and start) this machine's"
else
  socket=${HOSTPLANE_DOCKER_SOCKET:-/var/run/docker.sock}
  DOCKER_HOST=unix://$socket
  export DOCKER_HOST
  if ! answers; then
    command -v dockerd >/dev/null 2>&1 \
      || fail "no Docker engine answers at $DOCKER_HOST and dockerd is not installed (package docker.io)"
    if [ "$socket" = /var/run/docker.sock ] && command -v systemctl >/dev/null 2>&1 \
      && [ -d /run/systemd/system ]; then
      echo "starting the Docker engine: systemctl start docker"
      systemctl start docker
      log="journalctl -u docker"
      wait_answers
    else
      start_dockerd "$socket"
    fi
  fi
fi

[ "$#" -eq 0 ] || exec "$@"
