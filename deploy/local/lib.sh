# Shared settings and helpers of the local stack scripts (sourced, not run).
set -euo pipefail

LOCAL_STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_STACK_DIR/../.." && pwd)"
STATE_DIR="${RETENTION_LOCAL_DIR:-$REPO_ROOT/.local}"

KAFKA_VERSION="${RETENTION_KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${RETENTION_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${RETENTION_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${RETENTION_PG_PORT:-15432}"

KAFKA_LIBS="$STATE_DIR/cache/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_PID_FILE="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
PG_DIR="$STATE_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages when we may (root with apt-get), saying what and why; otherwise fails
# naming what is missing.
install_or_die() {
  local what=$1; shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "$what is missing: installing Debian package(s) $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    die "$what is missing; install it (Debian/Ubuntu: apt-get install $*) or set KAFKA_BROKERS / DATABASE_URL to use an existing server"
  fi
}

pg_bin_dir() {
  if [ -n "${RETENTION_PG_BIN:-}" ]; then echo "$RETENTION_PG_BIN"; return; fi
  local d
  for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/postgres" ]; then pg_config --bindir; return; fi
  return 1
}

# The server refuses to run as root: as root we run it as the `postgres` OS user.
pg_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A PID file names our process only if that process is alive and its command line mentions our
# state directory (PIDs get reused).
is_our_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$STATE_DIR"
}

kafka_pid() { [ -f "$KAFKA_PID_FILE" ] && cat "$KAFKA_PID_FILE" || true; }
pg_pid() { [ -f "$PG_DATA/postmaster.pid" ] && head -n1 "$PG_DATA/postmaster.pid" || true; }

kafka_running() { is_our_pid "$(kafka_pid)"; }
pg_running() { is_our_pid "$(pg_pid)"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
