#!/usr/bin/env bash
# Stops the local stack started by up.sh, by the PIDs it recorded: nothing is ever matched by
# process name, so a broker or database that someone else runs on this machine is left alone.
# Data is kept for the next up.sh. `down.sh --purge` also deletes the Kafka and PostgreSQL data
# (not the cached Kafka jars, which cost a Maven fetch to get back).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=""
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  *)
    echo "usage: down.sh [--purge]" >&2
    exit 2
    ;;
esac

# Without RETENTION_LOCAL_DIR / RETENTION_KAFKA_SECURITY: every stack of this clone, this one
# first (the secured one, and any RETENTION_LOCAL_DIR up.sh was run with), each with the settings of
# its own stack.conf.
down_others() {
  local dir
  [ -z "${RETENTION_LOCAL_DIR:-}" ] && [ -z "${RETENTION_KAFKA_SECURITY_GIVEN:-}" ] || return 0
  for dir in $(other_stacks); do
    log "the stack in $dir"
    env -u RETENTION_KAFKA_SECURITY -u RETENTION_KAFKA_BROKERS -u RETENTION_KAFKA_ONLY -u RETENTION_KAFKA_PORT -u RETENTION_KAFKA_CONTROLLER_PORT \
      -u RETENTION_KAFKA_BROKER_PORT -u RETENTION_PG_PORT RETENTION_LOCAL_DIR="$dir" bash "$STACK_DIR/down.sh" "$@"
  done
}

if [ ! -d "$STATE_DIR" ]; then
  log "nothing to stop: $STATE_DIR does not exist"
  down_others "$@"
  exit 0
fi
take_lock
log "stopping the stack in $STATE_DIR"
stop_node_processes

# wait_gone PID SECONDS: true once the process has exited. An exited process may stay a zombie
# for a moment until its parent (init, for our daemons) reaps it; give that up to 2 s so that it
# has left the process table too, but do not insist where init never reaps.
wait_gone() {
  local pid=$1 tries=$(($2 * 5)) _
  for _ in $(seq 1 "$tries"); do
    if ! pid_alive "$pid"; then
      for _ in $(seq 1 10); do
        [ -e "/proc/$pid" ] || break
        sleep 0.2
      done
      return 0
    fi
    sleep 0.2
  done
  ! pid_alive "$pid"
}

# SIGTERM lets the broker shut down cleanly (it flushes and closes its logs, so the next start
# skips log recovery); SIGKILL only if that has not happened within 30 s.
# A cluster's nodes get SIGTERM together: a node that stops alone first hands its partitions and
# the controller role to the others, one after the other that adds up.
stop_kafka() {
  local pid node pids=() nodes=()
  for node in $KAFKA_NODES; do
    kafka_node "$node"
    pid=$(kafka_pid)
    if ! kafka_running; then
      [ -f "$KAFKA_PID_FILE" ] && log "$KAFKA_NODE_NAME: removing stale $KAFKA_PID_FILE (pid $pid is not our broker)"
      rm -f "$KAFKA_PID_FILE"
      log "$KAFKA_NODE_NAME: not running"
      continue
    fi
    log "$KAFKA_NODE_NAME: stopping pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
    nodes+=("$node")
  done
  local i
  for i in "${!pids[@]}"; do
    kafka_node "${nodes[$i]}"
    pid=${pids[$i]}
    if ! wait_gone "$pid" 30; then
      log "$KAFKA_NODE_NAME: still running after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "$KAFKA_NODE_NAME: pid $pid survived SIGKILL"
    fi
    rm -f "$KAFKA_PID_FILE"
    log "$KAFKA_NODE_NAME: stopped"
  done
  kafka_node 1
}

# pg_ctl's fast mode: roll back open transactions, disconnect clients, write a checkpoint. If
# pg_ctl cannot do it, the postmaster gets SIGTERM (also "fast" shutdown), then SIGKILL.
stop_postgres() {
  local pid children child
  pid=$(pg_pid)
  if ! pg_running; then
    if [ -f "$PG_DATA/postmaster.pid" ]; then
      log "postgresql: removing stale $PG_DATA/postmaster.pid (pid $pid is not our server)"
      rm -f "$PG_DATA/postmaster.pid"
    fi
    log "postgresql: not running"
    return 0
  fi
  # The postmaster's children, to check afterwards that none was left behind.
  children=$(child_pids "$pid")
  log "postgresql: stopping pid $pid (pg_ctl stop -m fast)"
  local pg_ctl=""
  if find_pg_bin 2>/dev/null; then pg_ctl="$PG_BIN/pg_ctl"; fi
  # pg_ctl returns once postmaster.pid is gone, a moment before the postmaster has exited.
  if [ -z "$pg_ctl" ] || ! as_pg "$pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 </dev/null 9>&- \
    || ! wait_gone "$pid" 10; then
    log "postgresql: pg_ctl could not stop it; sending SIGTERM to the postmaster"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 30; then
      log "postgresql: still running after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "postgresql: pid $pid survived SIGKILL"
    fi
  fi
  # Backends exit on their own once the postmaster is gone (even after a SIGKILL), within a
  # moment; only a child that is still there after that is an error.
  for child in $children; do
    wait_gone "$child" 10 || die "postgresql: child process $child of postmaster $pid is still running"
  done
  log "postgresql: stopped"
}

stop_kafka
stop_postgres

# Proof that nothing of ours is left: no java or postgres process was started with our config
# or data path, and nothing listens on our ports (a leftover would make the next up.sh fail on
# a taken port).
leftovers=""
kafka_configs=()
kafka_ports_all=()
for node in $KAFKA_NODES; do
  kafka_node "$node"
  kafka_configs+=("$KAFKA_CONFIG")
  kafka_ports_all+=("$KAFKA_NODE_PORT" "$KAFKA_NODE_CONTROLLER_PORT")
done
kafka_node 1
for cmdline in /proc/[0-9]*/cmdline; do
  args=$(tr '\0' '\n' 2>/dev/null <"$cmdline") || continue
  case "${args%%$'\n'*}" in
    java | */java) ours=("${kafka_configs[@]}") ;;
    postgres | */postgres) ours=("$PG_DATA") ;;
    *) continue ;;
  esac
  if printf '%s\n' "$args" | grep -qxF "${ours[@]/#/-e}"; then
    p=${cmdline#/proc/}
    leftovers="$leftovers ${p%/cmdline}"
  fi
done
[ -z "$leftovers" ] || die "processes still running from $STATE_DIR:$leftovers"
for port in "${kafka_ports_all[@]}" ${RETENTION_KAFKA_BROKER_PORT:+"$RETENTION_KAFKA_BROKER_PORT"} "$RETENTION_PG_PORT"; do
  if port_open "$port"; then
    log "note: 127.0.0.1:$port still accepts connections, but not from a process of this stack"
  fi
done

if [ -n "$purge" ]; then
  # With the broker's data go its SCRAM users, so the credentials (in $KAFKA_DIR) go too.
  log "purging $KAFKA_DIR, $PG_DIR and $STACK_ENV (keeping the jar cache in $KAFKA_CACHE_ROOT)"
  rm -rf "$KAFKA_DIR" "$PG_DIR" "$STACK_ENV"
fi

# Released before the other stacks (their own locks).
exec 9>&-
down_others "$@"
