#!/usr/bin/env bash
# Local services for staticize's end-to-end tests: a docker daemon (Debian's
# docker.io), a registry on 127.0.0.1:5000 and a podman containers.conf.
#
#   scripts/services.sh start    start what is not running yet (idempotent)
#   scripts/services.sh stop     stop what start started (idempotent)
#   scripts/services.sh status   exit 0 when both daemons answer
#   scripts/services.sh env      print `export …` lines:  eval "$(scripts/services.sh env)"
#
# State, sockets, pidfiles and logs live in $STATICIZE_SERVICES_DIR
# (default /tmp/staticize-services). Runs as root.
set -euo pipefail

STATE=${STATICIZE_SERVICES_DIR:-/tmp/staticize-services}
REGISTRY_ADDR=${STATICIZE_REGISTRY_ADDR:-127.0.0.1:5000}

DOCKER_SOCK=$STATE/docker.sock
DOCKER_PID=$STATE/dockerd.pid
DOCKER_LOG=$STATE/dockerd.log
DOCKER_DATA=$STATE/docker-data
# Short on purpose: dockerd puts containerd's socket under it (unix socket paths max out at 107 bytes).
DOCKER_EXEC=$STATE/x
REGISTRY_CONF=$STATE/registry.yml
REGISTRY_PID=$STATE/registry.pid
REGISTRY_LOG=$STATE/registry.log
REGISTRY_DATA=$STATE/registry-data
SYSTEM_CONTAINERS_CONF=/etc/containers/containers.conf
STATE_CONTAINERS_CONF=$STATE/containers.conf

# Debian's client, not whatever newer docker sits earlier on PATH.
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=docker

log() { printf 'services: %s\n' "$*" >&2; }

die() {
  log "error: $*"
  exit 1
}

show_log() {
  if [ -f "$1" ]; then
    log "last lines of $1:"
    tail -n 40 "$1" >&2 || true
  fi
}

# The pid in a pidfile when that process is alive (not a zombie) and is the
# program we started (guards against a reused pid), else nothing.
live_pid() {
  local pid state
  [ -s "$1" ] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1) || return 1
  case "$state" in Z | X | "") return 1 ;; esac
  case "$1" in
  "$DOCKER_PID") grep -qa dockerd "/proc/$pid/cmdline" || return 1 ;;
  "$REGISTRY_PID") grep -qa docker-registry "/proc/$pid/cmdline" || return 1 ;;
  */containerd.pid) grep -qa containerd "/proc/$pid/cmdline" || return 1 ;;
  esac
  echo "$pid"
}

docker_ok() { DOCKER_HOST=unix://$DOCKER_SOCK timeout 10 "$DOCKER_CLI" version >/dev/null 2>&1; }
registry_ok() { curl -fsS --max-time 5 "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

# wait_for SECONDS PIDFILE LOG CHECK-FUNCTION NAME
wait_for() {
  local secs=$1 pidfile=$2 logfile=$3 check=$4 name=$5 i
  for ((i = 0; i < secs * 4; i++)); do
    if "$check"; then
      return 0
    fi
    if ! live_pid "$pidfile" >/dev/null; then
      show_log "$logfile"
      die "$name exited before it answered"
    fi
    sleep 0.25
  done
  show_log "$logfile"
  die "$name did not answer within ${secs}s"
}

# stop_pid PIDFILE NAME GRACE-SECONDS
stop_pid() {
  local pidfile=$1 name=$2 grace=$3 pid i
  if pid=$(live_pid "$pidfile"); then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 4; i++)); do
      live_pid "$pidfile" >/dev/null || break
      sleep 0.25
    done
    if live_pid "$pidfile" >/dev/null; then
      log "$name ignored SIGTERM for ${grace}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$pidfile"
}

containers_conf_ok() {
  [ -f "$1" ] && grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$1" &&
    grep -q 'nofile=' "$1"
}

write_containers_conf() {
  cat >"$1.tmp" <<'EOF'
# Written by staticize scripts/services.sh: podman runs containers on this
# kind of machine only with explicit ulimits and runc.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"
EOF
  mv "$1.tmp" "$1"
}

setup_podman() {
  if containers_conf_ok "$SYSTEM_CONTAINERS_CONF"; then
    rm -f "$STATE_CONTAINERS_CONF"
  elif [ ! -e "$SYSTEM_CONTAINERS_CONF" ] && mkdir -p "${SYSTEM_CONTAINERS_CONF%/*}" 2>/dev/null &&
    write_containers_conf "$SYSTEM_CONTAINERS_CONF" 2>/dev/null; then
    log "wrote $SYSTEM_CONTAINERS_CONF"
    rm -f "$STATE_CONTAINERS_CONF"
  else
    # An existing system file without our settings (or no permission): keep it and
    # point podman at ours instead; `env` exports CONTAINERS_CONF.
    write_containers_conf "$STATE_CONTAINERS_CONF"
    log "wrote $STATE_CONTAINERS_CONF (export CONTAINERS_CONF, see: $0 env)"
  fi
}

start_docker() {
  if live_pid "$DOCKER_PID" >/dev/null && docker_ok; then
    log "dockerd already running (unix://$DOCKER_SOCK)"
    return 0
  fi
  if live_pid "$DOCKER_PID" >/dev/null; then
    log "dockerd is running but not answering yet; waiting"
    wait_for 60 "$DOCKER_PID" "$DOCKER_LOG" docker_ok dockerd
    return 0
  fi
  command -v dockerd >/dev/null || die "dockerd not found — install it: apt-get install docker.io"
  rm -f "$DOCKER_PID" "$DOCKER_SOCK"
  mkdir -p "$DOCKER_DATA" "$DOCKER_EXEC"
  log "starting dockerd (log: $DOCKER_LOG)"
  # setsid + redirected stdio: the daemon outlives this script and its terminal/job.
  setsid dockerd \
    --iptables=false --ip6tables=false --bridge=none \
    --host="unix://$DOCKER_SOCK" \
    --data-root="$DOCKER_DATA" --exec-root="$DOCKER_EXEC" \
    --pidfile="$DOCKER_PID" \
    </dev/null >>"$DOCKER_LOG" 2>&1 9>&- &
  local launcher=$!
  # dockerd writes its pidfile itself after a moment; until then, watch the launcher.
  local i
  for ((i = 0; i < 40; i++)); do
    [ -s "$DOCKER_PID" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.25
  done
  [ -s "$DOCKER_PID" ] || echo "$launcher" >"$DOCKER_PID"
  wait_for 60 "$DOCKER_PID" "$DOCKER_LOG" docker_ok dockerd
  log "dockerd ready (unix://$DOCKER_SOCK)"
}

write_registry_conf() {
  # Debian's /etc/docker/registry/config.yml with our address and storage and
  # without its htpasswd auth section.
  cat >"$REGISTRY_CONF.tmp" <<EOF
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $REGISTRY_DATA
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
  mv "$REGISTRY_CONF.tmp" "$REGISTRY_CONF"
}

start_registry() {
  if live_pid "$REGISTRY_PID" >/dev/null && registry_ok; then
    log "registry already running (http://$REGISTRY_ADDR)"
    return 0
  fi
  stop_pid "$REGISTRY_PID" registry 5
  if registry_ok; then
    die "something else already answers on http://$REGISTRY_ADDR (set STATICIZE_REGISTRY_ADDR to use another address)"
  fi
  command -v docker-registry >/dev/null ||
    die "docker-registry not found — install it: apt-get install docker-registry"
  mkdir -p "$REGISTRY_DATA"
  write_registry_conf
  log "starting registry on $REGISTRY_ADDR (log: $REGISTRY_LOG)"
  setsid docker-registry serve "$REGISTRY_CONF" </dev/null >>"$REGISTRY_LOG" 2>&1 9>&- &
  echo $! >"$REGISTRY_PID"
  wait_for 30 "$REGISTRY_PID" "$REGISTRY_LOG" registry_ok registry
  log "registry ready (http://$REGISTRY_ADDR/v2/)"
}

stop_docker() {
  stop_pid "$DOCKER_PID" dockerd 30
  # dockerd normally stops the containerd it started; make sure of it.
  stop_pid "$DOCKER_EXEC/containerd/containerd.pid" containerd 10
  # Leftover mounts from an unclean shutdown would keep the state dir busy.
  local m
  if [ -r /proc/self/mounts ]; then
    awk -v s="$STATE/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do
        umount -l "$m" 2>/dev/null || true
      done
  fi
  rm -f "$DOCKER_SOCK"
}

cmd_env() {
  echo "export DOCKER_HOST=unix://$DOCKER_SOCK"
  echo "export STATICIZE_REGISTRY=$REGISTRY_ADDR"
  if [ -f "$STATE_CONTAINERS_CONF" ]; then
    echo "export CONTAINERS_CONF=$STATE_CONTAINERS_CONF"
  fi
}

# start and stop take a lock so that concurrent callers do not race.
lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  if command -v flock >/dev/null; then
    flock -w 120 9 || die "could not lock $STATE/.lock within 120s"
  fi
}

case "${1:-}" in
start)
  [ "$(id -u)" = 0 ] || die "run as root (dockerd and podman need it)"
  lock
  setup_podman
  start_docker
  start_registry
  ;;
stop)
  [ -d "$STATE" ] || exit 0
  lock
  stop_pid "$REGISTRY_PID" registry 10
  stop_docker
  log "stopped"
  ;;
status)
  ok=0
  if live_pid "$DOCKER_PID" >/dev/null && docker_ok; then
    log "dockerd: running (unix://$DOCKER_SOCK)"
  else
    log "dockerd: not running"
    ok=1
  fi
  if live_pid "$REGISTRY_PID" >/dev/null && registry_ok; then
    log "registry: running (http://$REGISTRY_ADDR)"
  else
    log "registry: not running"
    ok=1
  fi
  exit "$ok"
  ;;
env)
  cmd_env
  ;;
*)
  echo "usage: $0 start|stop|status|env" >&2
  exit 2
  ;;
esac
