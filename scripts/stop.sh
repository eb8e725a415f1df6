#!/usr/bin/env bash
# Stops what `npm start` started: the services by their recorded PIDs, then the local stack.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
for pidfile in "$RUN_DIR"/*.pid; do
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
bash deploy/local/down.sh "$@"
