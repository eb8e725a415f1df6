#!/usr/bin/env bash
# One line per component of the local stack, then one per node process `npm start` runs on it
# (PID and full command line, absolute paths), e.g.
#   state: /var/tmp/retention-0123456789ab
#   kafka: running pid 1234 127.0.0.1:19092
#   postgres: stopped
#   node: pid 2345 node --import tsx /root/retention/services/sessions/src/main.ts
# Exit 0 when both run, 3 otherwise (the LSB "not running" code), so scripts can test it.
# Without RETENTION_LOCAL_DIR / RETENTION_KAFKA_SECURITY the other stacks of this clone (the secured
# one, any RETENTION_LOCAL_DIR up.sh was run with) are listed after it; they do not change the exit
# code. The ports come from the stack's stack.conf: no variable needs repeating.
# Read-only: it neither creates nor cleans anything.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

code=0

# A live process that does not (yet) accept connections is still "running", but say so.
describe() {
  local name=$1 pid=$2 port=$3 extra=$4
  if port_open "$port"; then
    echo "$name: running pid $pid 127.0.0.1:$port$extra"
  else
    echo "$name: running pid $pid 127.0.0.1:$port$extra (not accepting connections yet)"
  fi
}

echo "state: $STATE_DIR"
# A cluster: one line per node, "kafka node <id>: ...".
for node in $KAFKA_NODES; do
  kafka_node "$node"
  if kafka_running; then
    extra=""
    [ "$RETENTION_KAFKA_SECURITY" = sasl ] && extra=" SASL/SCRAM+ACLs"
    describe "$KAFKA_NODE_NAME" "$(kafka_pid)" "$KAFKA_NODE_PORT" "$extra"
  else
    echo "$KAFKA_NODE_NAME: stopped"
    code=3
  fi
done
if pg_running; then
  describe postgres "$(pg_pid)" "$RETENTION_PG_PORT" ""
elif [ "${RETENTION_KAFKA_ONLY:-false}" = true ] && [ ! -d "$PG_DATA" ]; then
  echo "postgres: not part of this stack (RETENTION_KAFKA_ONLY=true)"
else
  echo "postgres: stopped"
  code=3
fi
for pid in $(stack_node_pids); do
  echo "node: pid $pid $(pid_cmdline "$pid")"
done

if [ -z "${RETENTION_LOCAL_DIR:-}" ] && [ -z "$RETENTION_KAFKA_SECURITY_GIVEN" ]; then
  for dir in $(other_stacks); do
    echo
    # Its own settings come from its stack.conf; the caller's port variables are not its own.
    env -u RETENTION_KAFKA_SECURITY -u RETENTION_KAFKA_BROKERS -u RETENTION_KAFKA_ONLY -u RETENTION_KAFKA_PORT -u RETENTION_KAFKA_CONTROLLER_PORT \
      -u RETENTION_KAFKA_BROKER_PORT -u RETENTION_PG_PORT RETENTION_LOCAL_DIR="$dir" \
      bash "$STACK_DIR/status.sh" || true
  done
fi
exit "$code"
