# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers of the local stack scripts (up.sh, down.sh, status.sh, logs.sh).
# Sourced, never run. Everything here is derived from this file's own location and the
# environment, so the scripts behave the same from any working directory and any clone path.
set -euo pipefail

# Apache Kafka 4.4.0: the newest release on Maven Central that was checked end to end with the
# project's Node client, kafkajs 2.2.4 (admin, idempotent producer, consumer groups, offsets).
# See README.md next to this file before changing it.
RETENTION_KAFKA_VERSION="${RETENTION_KAFKA_VERSION:-4.4.0}"
STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$STACK_DIR/../.." && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=state-dir.sh
source "$STACK_DIR/state-dir.sh"
# The default state root of this clone: <repo>/.local, or /var/tmp/retention-<hash> where the
# PostgreSQL server's user could not reach the clone (see state-dir.sh).
DEFAULT_ROOT="$(retention_default_root "$REPO_ROOT")"
# Every state dir up.sh was run with for this clone (RETENTION_LOCAL_DIR included), one a line:
# stop.sh and status.sh find every stack through it, whatever variables they are called with.
STACKS_LIST="$DEFAULT_ROOT/stacks.list"

# <state dir>/stack.conf (written by up.sh) remembers the settings a stack was started with, so
# that down.sh/status.sh need no repeated variables; a variable set in the environment wins.
load_stack_conf() {
  local file=$1/stack.conf key value formatted=""
  # Stacks started before stack.conf existed: the broker's storage records its security mode.
  if [ -z "${RETENTION_KAFKA_SECURITY:-}" ] && [ ! -f "$file" ] && [ -f "$1/kafka/security" ]; then
    read -r formatted <"$1/kafka/security" || true
    case "$formatted" in none | sasl) RETENTION_KAFKA_SECURITY=$formatted ;; esac
  fi
  [ -f "$file" ] || return 0
  while IFS='=' read -r key value; do
    case "$key" in
      RETENTION_KAFKA_SECURITY | RETENTION_KAFKA_BROKERS | RETENTION_KAFKA_PORT | RETENTION_KAFKA_CONTROLLER_PORT | RETENTION_KAFKA_BROKER_PORT | RETENTION_PG_PORT | RETENTION_KAFKA_ONLY)
        case "$value" in *[!A-Za-z0-9]*) continue ;; esac
        [ -n "${!key:-}" ] || printf -v "$key" '%s' "$value"
        ;;
    esac
  done <"$file"
}
# Whether the caller chose the stack (down.sh/status.sh then handle that one only): by its
# security mode or by its number of brokers.
RETENTION_KAFKA_SECURITY_GIVEN=${RETENTION_KAFKA_SECURITY:+1}${RETENTION_KAFKA_BROKERS:+1}
if [ -n "${RETENTION_LOCAL_DIR:-}" ]; then load_stack_conf "$RETENTION_LOCAL_DIR"; fi

# none: one PLAINTEXT listener, no authentication. sasl: SASL/SCRAM on the client listener, the
# StandardAuthorizer with ACLs, one principal per process (see README.md, "The secured stack").
# The secured stack is a stack of its own: other state dir, other ports, so both can run at once.
RETENTION_KAFKA_SECURITY="${RETENTION_KAFKA_SECURITY:-none}"
# RETENTION_KAFKA_BROKERS=N (N > 1): a cluster of N KRaft nodes (each broker and controller), a
# stack of its own as well: <root>/cluster, ports 19292-19297 for 3 nodes, PostgreSQL 15632.
case "${RETENTION_KAFKA_BROKERS:-1}" in
  [1-9]) ;;
  *)
    printf '[stack] error: RETENTION_KAFKA_BROKERS must be a number from 1 to 9 (got "%s")\n' "$RETENTION_KAFKA_BROKERS" >&2
    exit 2
    ;;
esac
case "$RETENTION_KAFKA_SECURITY" in
  none) if [ "${RETENTION_KAFKA_BROKERS:-1}" -gt 1 ]; then default_state_dir="$DEFAULT_ROOT/cluster"; else default_state_dir="$DEFAULT_ROOT"; fi ;;
  sasl) default_state_dir="$DEFAULT_ROOT/secure" ;;
  *)
    printf '[stack] error: RETENTION_KAFKA_SECURITY must be none or sasl (got "%s")\n' "$RETENTION_KAFKA_SECURITY" >&2
    exit 2
    ;;
esac
STATE_DIR="${RETENTION_LOCAL_DIR:-$default_state_dir}"
# Absolute, because the paths end up in process command lines (our ownership check) and in
# files read by processes whose working directory is not ours.
# realpath -m: also canonical (no "//", "..", symlinks), as PostgreSQL records its -D path, and
# without requiring the directory to exist yet.
STATE_DIR="$(realpath -m -- "$STATE_DIR")"
if [ -z "${RETENTION_LOCAL_DIR:-}" ]; then load_stack_conf "$STATE_DIR"; fi
RETENTION_KAFKA_BROKERS="${RETENTION_KAFKA_BROKERS:-1}"
case "$RETENTION_KAFKA_BROKERS" in
  [1-9]) ;;
  *)
    printf '[stack] error: RETENTION_KAFKA_BROKERS must be a number from 1 to 9 (got "%s")\n' "$RETENTION_KAFKA_BROKERS" >&2
    exit 2
    ;;
esac
if [ "$RETENTION_KAFKA_BROKERS" -gt 1 ] && [ "$RETENTION_KAFKA_SECURITY" != none ]; then
  printf '[stack] error: a cluster (RETENTION_KAFKA_BROKERS=%s) runs with RETENTION_KAFKA_SECURITY=none only\n' "$RETENTION_KAFKA_BROKERS" >&2
  exit 2
fi
case "$RETENTION_KAFKA_SECURITY" in
  none)
    if [ "$RETENTION_KAFKA_BROKERS" -gt 1 ]; then
      # Node i listens on RETENTION_KAFKA_PORT + 2(i-1) and RETENTION_KAFKA_CONTROLLER_PORT + 2(i-1).
      RETENTION_KAFKA_PORT="${RETENTION_KAFKA_PORT:-19292}"
      RETENTION_KAFKA_CONTROLLER_PORT="${RETENTION_KAFKA_CONTROLLER_PORT:-19293}"
      RETENTION_PG_PORT="${RETENTION_PG_PORT:-15632}"
    else
      RETENTION_KAFKA_PORT="${RETENTION_KAFKA_PORT:-19092}"
      RETENTION_KAFKA_CONTROLLER_PORT="${RETENTION_KAFKA_CONTROLLER_PORT:-19093}"
      RETENTION_PG_PORT="${RETENTION_PG_PORT:-15432}"
    fi
    RETENTION_KAFKA_BROKER_PORT="${RETENTION_KAFKA_BROKER_PORT:-}"
    ;;
  sasl)
    RETENTION_KAFKA_PORT="${RETENTION_KAFKA_PORT:-19192}"
    RETENTION_KAFKA_CONTROLLER_PORT="${RETENTION_KAFKA_CONTROLLER_PORT:-19193}"
    # The inter-broker listener (PLAINTEXT, loopback), kept off the client port.
    RETENTION_KAFKA_BROKER_PORT="${RETENTION_KAFKA_BROKER_PORT:-19194}"
    RETENTION_PG_PORT="${RETENTION_PG_PORT:-15532}"
    ;;
esac
# One SCRAM principal per process of `npm start`, plus `admin` (a super user: topics and ACLs).
KAFKA_SASL_PRINCIPALS=(admin coordinator sessions orders analytics support ml-data)
KAFKA_SASL_SERVICES=(sessions orders analytics support ml-data)
# -Xms/-Xmx as the Kafka start scripts would get them from KAFKA_HEAP_OPTS.
RETENTION_KAFKA_HEAP_OPTS="${RETENTION_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
# Seconds up.sh waits for the broker (a cold JVM on 2 busy cores can take 20 s or more).
RETENTION_KAFKA_START_TIMEOUT="${RETENTION_KAFKA_START_TIMEOUT:-90}"

# The jars are the same for every stack: the default state dirs share <default root>/cache.
if [ -n "${RETENTION_KAFKA_CACHE_DIR:-}" ]; then
  KAFKA_CACHE_ROOT="$(realpath -m -- "$RETENTION_KAFKA_CACHE_DIR")"
elif [ -n "${RETENTION_LOCAL_DIR:-}" ]; then
  KAFKA_CACHE_ROOT="$STATE_DIR/cache"
else
  KAFKA_CACHE_ROOT="$DEFAULT_ROOT/cache"
fi
KAFKA_CACHE_DIR="$KAFKA_CACHE_ROOT/kafka-$RETENTION_KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_CACHE_DIR/libs"
KAFKA_DIR="$STATE_DIR/kafka"
# Shared by every node of a cluster: they are formatted with the same id.
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
KAFKA_NODES=$(seq 1 "$RETENTION_KAFKA_BROKERS")

# Selects KRaft node $1 (1..RETENTION_KAFKA_BROKERS): its directory, files and ports. A single
# broker keeps everything in <state>/kafka (as before clusters existed); node i of a cluster in
# <state>/kafka/node-<i>. Node ids are 1..N.
kafka_node() {
  KAFKA_NODE=$1
  if [ "$RETENTION_KAFKA_BROKERS" -eq 1 ]; then KAFKA_NODE_DIR="$KAFKA_DIR"; else KAFKA_NODE_DIR="$KAFKA_DIR/node-$1"; fi
  KAFKA_DATA="$KAFKA_NODE_DIR/data"
  KAFKA_LOGS_DIR="$KAFKA_NODE_DIR/logs"
  KAFKA_CONFIG="$KAFKA_NODE_DIR/server.properties"
  KAFKA_PID_FILE="$KAFKA_NODE_DIR/kafka.pid"
  KAFKA_LOG="$KAFKA_NODE_DIR/kafka.log"
  KAFKA_NODE_PORT=$((RETENTION_KAFKA_PORT + 2 * ($1 - 1)))
  KAFKA_NODE_CONTROLLER_PORT=$((RETENTION_KAFKA_CONTROLLER_PORT + 2 * ($1 - 1)))
  # "kafka" for a single broker, "kafka node 2" in a cluster (log and status lines).
  if [ "$RETENTION_KAFKA_BROKERS" -eq 1 ]; then KAFKA_NODE_NAME=kafka; else KAFKA_NODE_NAME="kafka node $1"; fi
}
# Every node's client port, comma-separated (KAFKA_BROKERS), and the static KRaft voter set.
kafka_bootstrap() {
  local i out=""
  for i in $KAFKA_NODES; do out="$out${out:+,}127.0.0.1:$((RETENTION_KAFKA_PORT + 2 * (i - 1)))"; done
  echo "$out"
}
kafka_quorum_voters() {
  local i out=""
  for i in $KAFKA_NODES; do out="$out${out:+,}$i@127.0.0.1:$((RETENTION_KAFKA_CONTROLLER_PORT + 2 * (i - 1)))"; done
  echo "$out"
}
# Ports are validated by up.sh before they reach this arithmetic.
case "$RETENTION_KAFKA_PORT$RETENTION_KAFKA_CONTROLLER_PORT" in '' | *[!0-9]*) ;; *) kafka_node 1 ;; esac
# The security mode the storage was formatted for (SCRAM users exist only if formatted with them).
KAFKA_SECURITY_FILE="$KAFKA_DIR/security"
# sasl: one file per principal, <name>.password (mode 0600), generated once before formatting.
KAFKA_CREDENTIALS_DIR="$KAFKA_DIR/credentials"

PG_DIR="$STATE_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
# The oldest server major version we run; newer ones are accepted.
PG_MIN_MAJOR=15

STACK_ENV="$STATE_DIR/stack.env"
LOCK_FILE="$STATE_DIR/.stack.lock"

# Progress goes to stderr so that stdout carries only the KEY=value lines up.sh prints at the end.
log() { printf '[stack] %s\n' "$*" >&2; }
die() {
  printf '[stack] error: %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Milliseconds since the epoch, for the "up in N s" line.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# One up.sh/down.sh at a time per state dir: parallel test workers that each call up.sh must not
# start two brokers on one data dir. The lock fd must not leak into the servers we start (they
# would hold the lock for their whole life), so every start closes fd 9 (see `9>&-`).
take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$STATE_DIR"
  exec 9>"$LOCK_FILE"
  if ! flock -w 300 9; then
    die "another up.sh/down.sh has held $LOCK_FILE for 5 minutes; is one stuck?"
  fi
}

# ---------------------------------------------------------------------------------------------
# Processes. A PID file alone proves nothing: the process may be gone and its PID reused by an
# unrelated program. A PID is "ours" only if that process is alive and one of its arguments is
# exactly the path we gave it (Kafka: its server.properties; PostgreSQL: its -D data dir).

# A zombie has exited already; it lingers only where PID 1 never reaps (some containers).
pid_alive() {
  local stat
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

pid_has_arg() {
  local pid=$1 arg=$2
  pid_alive "$pid" || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF -- "$arg"
}

# Direct children of a PID, from /proc (procps' ps is missing in slim images).
child_pids() {
  local parent=$1 stat_file stat rest ppid
  for stat_file in /proc/[0-9]*/stat; do
    stat=$(cat "$stat_file" 2>/dev/null) || continue
    # Field 2 (the command name) may contain spaces and parentheses; the fields after the last
    # ")" are fixed: state, then ppid.
    rest=${stat##*) }
    ppid=$(printf '%s' "$rest" | cut -d' ' -f2)
    if [ "$ppid" = "$parent" ]; then
      stat_file=${stat_file#/proc/}
      echo "${stat_file%/stat}"
    fi
  done
}

# The node processes `npm start` runs for this state dir: scripts/start.sh gives each one
# RETENTION_STACK_DIR=<state dir> in its environment, so they are found with or without their PID
# files (an orphan of a failed start too), and never a node process of another stack or clone.
stack_node_pids() {
  local environ pid exe
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [ "$pid" != "$$" ] || continue
    exe=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | head -n 1) || continue
    case "${exe##*/}" in node | node[0-9]*) ;; *) continue ;; esac
    tr '\0' '\n' 2>/dev/null <"$environ" | grep -qxF -- "RETENTION_STACK_DIR=$STATE_DIR" && echo "$pid"
  done
  return 0
}

# The command line of a PID, arguments separated by spaces.
pid_cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | sed 's/ $//'; }

# Other stacks of this clone that up.sh recorded (state dirs that still exist), one a line.
other_stacks() {
  local dir
  {
    # The two default stacks, recorded or not (state dirs made before the list existed).
    echo "$DEFAULT_ROOT"
    echo "$DEFAULT_ROOT/secure"
    echo "$DEFAULT_ROOT/cluster"
    [ -f "$STACKS_LIST" ] && cat "$STACKS_LIST"
  } | while IFS= read -r dir; do
    if [ -z "$dir" ] || [ "$dir" = "$STATE_DIR" ]; then continue; fi
    [ -e "$dir/stack.env" ] || [ -d "$dir/kafka" ] || [ -d "$dir/postgres" ] || [ -d "$dir/run" ] || continue
    echo "$dir"
  done | awk '!seen[$0]++'
}

# Stops every node process of this stack at once (SIGTERM to all, then wait; SIGKILL to those
# still there after 30 s): a service takes several seconds to leave its consumer group, and one
# at a time that added up to a minute. Also takes the PIDs of <state dir>/run/*.pid that are still
# node processes (started before RETENTION_STACK_DIR was set), and removes those files.
stop_node_processes() {
  local pids=() pid file alive _
  mapfile -t pids < <(stack_node_pids)
  for file in "$STATE_DIR"/run/*.pid; do
    [ -e "$file" ] || continue
    pid=$(read_pid_file "$file")
    if [ -n "$pid" ] && pid_alive "$pid"; then
      case "$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | head -n 1)" in
        node | */node) [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid") ;;
      esac
    fi
  done
  if [ ${#pids[@]} -gt 0 ]; then
    local started
    started=$(now_ms)
    log "node: stopping ${#pids[@]} process(es) in parallel (SIGTERM): ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 150); do
      alive=()
      for pid in "${pids[@]}"; do pid_alive "$pid" && alive+=("$pid"); done
      [ ${#alive[@]} -eq 0 ] && break
      sleep 0.2
    done
    if [ ${#alive[@]} -gt 0 ]; then
      log "node: still running after 30 s, SIGKILL: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
    fi
    started=$(($(now_ms) - started))
    log "node: stopped in $((started / 1000)).$(((started % 1000) / 100)) s"
  fi
  rm -f "$STATE_DIR"/run/*.pid
}

read_pid_file() {
  local pid=""
  if [ -f "$1" ]; then read -r pid 2>/dev/null <"$1" || true; fi
  case "$pid" in '' | *[!0-9]*) echo "" ;; *) echo "$pid" ;; esac
}

kafka_pid() { read_pid_file "$KAFKA_PID_FILE"; }
# postmaster.pid's first line is the postmaster's PID (PostgreSQL's own lock file).
pg_pid() { read_pid_file "$PG_DATA/postmaster.pid"; }

kafka_running() { pid_has_arg "$(kafka_pid)" "$KAFKA_CONFIG"; }
# Every node of the stack runs (these select each node in turn, and node 1 again at the end).
kafka_all_running() {
  local i status=0
  for i in $KAFKA_NODES; do
    kafka_node "$i"
    kafka_running || status=1
  done
  kafka_node 1
  return "$status"
}
pg_running() { pid_has_arg "$(pg_pid)" "$PG_DATA"; }

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Prerequisites. Missing tools are installed with apt-get only when that is possible without
# asking anyone (root, Debian-like); otherwise we stop and say exactly what to install.

can_apt_install() { is_root && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=""
apt_update_once() {
  if [ -z "$APT_UPDATED" ]; then
    log "running apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
}

# The first of the named packages this machine's apt sources can install (Debian 12 has
# openjdk-17 and postgresql-15; later releases only newer majors).
apt_first_available() {
  local pkg candidate
  for pkg in "$@"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
      echo "$pkg"
      return 0
    fi
  done
  return 1
}

apt_install() {
  # confdef/confold: never stop at a dpkg question about a configuration file (no stdin in CI).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >&2
}

java_major() {
  local version
  version=$("$1" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')
  version=${version#1.}
  echo "${version%%[.+-]*}"
}

# Sets JAVA to a Java 17+ binary: $JAVA_HOME/bin/java, else java on PATH, else a JVM that
# Debian's packages put under /usr/lib/jvm.
find_java() {
  local candidate major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" \
    /usr/lib/jvm/java-*-openjdk-*/bin/java; do
    if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
    major=$(java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 17 ] 2>/dev/null; then
      JAVA=$candidate
      return 0
    fi
  done
  return 1
}

# Sets PG_BIN to a directory with PostgreSQL 15+ server binaries: RETENTION_PG_BIN, else
# /usr/lib/postgresql/15/bin, else the newest /usr/lib/postgresql/N/bin, else pg_config --bindir.
find_pg_bin() {
  local dir major candidates
  if [ -n "${RETENTION_PG_BIN:-}" ]; then
    if [ ! -x "$RETENTION_PG_BIN/postgres" ] || [ ! -x "$RETENTION_PG_BIN/pg_ctl" ]; then
      die "RETENTION_PG_BIN=$RETENTION_PG_BIN has no postgres/pg_ctl executables"
    fi
    PG_BIN=$RETENTION_PG_BIN
    return 0
  fi
  candidates=("/usr/lib/postgresql/$PG_MIN_MAJOR/bin")
  # Newest major first: /usr/lib/postgresql/<major>/bin, sorted numerically on <major>.
  mapfile -t -O 1 candidates < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -t/ -k5,5nr)
  candidates+=("$(pg_config --bindir 2>/dev/null || true)")
  for dir in "${candidates[@]}"; do
    if [ -z "$dir" ] || [ ! -x "$dir/postgres" ] || [ ! -x "$dir/pg_ctl" ] || [ ! -x "$dir/initdb" ]; then
      continue
    fi
    major=$(pg_major "$dir")
    if [ -n "$major" ] && [ "$major" -ge "$PG_MIN_MAJOR" ] 2>/dev/null; then
      PG_BIN=$dir
      return 0
    fi
  done
  return 1
}

# "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)" -> 15
pg_major() {
  "$1/postgres" --version 2>/dev/null | awk '{ split($3, v, "."); print v[1]; exit }'
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user (made
# by Debian's postgresql-common); otherwise as whoever runs the scripts.
pg_os_user() { if is_root; then echo postgres; else id -un; fi; }

# Runs a command as that user, from / so that a working directory it cannot enter (root's home)
# does not produce "could not change directory" noise.
as_pg() {
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u postgres -- "$@")
    else
      (cd / && su postgres -s /bin/bash -c "$(printf '%q ' "$@")")
    fi
  else
    "$@"
  fi
}
