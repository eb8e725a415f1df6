#!/usr/bin/env bash
# Stops the local stack by the PIDs it recorded (never by process name). Data is kept;
# `down.sh --purge` also deletes it (not the cached Kafka jars).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid() {
  local name=$1 pid=$2
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { log "$name stopped"; return 0; }; sleep 0.5; done
  log "$name did not stop within 30 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

if kafka_running; then stop_pid kafka "$(kafka_pid)"; else log "kafka not running"; fi
rm -f "$KAFKA_PID_FILE"

if pg_running; then
  bin=$(pg_bin_dir)
  if as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1; then log "postgresql stopped"; else stop_pid postgresql "$(pg_pid)"; fi
else
  log "postgresql not running"
fi

if [ "${1:-}" = "--purge" ]; then
  log "purging $KAFKA_DIR and $PG_DIR"
  rm -rf "$KAFKA_DIR" "$PG_DIR" "$STATE_DIR/stack.env"
fi
