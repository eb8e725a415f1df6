#!/usr/bin/env bash
# Stops what `npm start` started: the services by their recorded PIDs, then the local stack.
# Without RETENTION_KAFKA_SECURITY / RETENTION_LOCAL_DIR: both stacks of the default layout, the
# plain one and, if it was ever started, the secured one (.local/secure). With them: that one only.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# stop_processes RUN_DIR: the processes `npm start` recorded there, by PID.
stop_processes() {
  local pidfile name pid
  for pidfile in "$1"/*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping $name (pid $pid)"
      kill -TERM "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s; killing"; kill -KILL "$pid"; fi
    fi
    rm -f "$pidfile"
  done
}

stop_processes "$RUN_DIR"
bash deploy/local/down.sh "$@"
if [ -z "${RETENTION_KAFKA_SECURITY:-}" ] && [ -z "${RETENTION_LOCAL_DIR:-}" ] && [ -d "$ROOT/.local/secure" ]; then
  say "the secured stack (.local/secure)"
  stop_processes "$ROOT/.local/secure/run"
  RETENTION_KAFKA_SECURITY=sasl bash deploy/local/down.sh "$@"
fi
