#!/usr/bin/env bash
# One line per component of the local stack, e.g.
#   kafka: running pid 1234 127.0.0.1:19092
#   postgres: stopped
# Exit 0 when both run, 3 otherwise (the LSB "not running" code), so scripts can test it.
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

if kafka_running; then
  extra=""
  [ "$RETENTION_KAFKA_SECURITY" = sasl ] && extra=" SASL/SCRAM+ACLs"
  describe kafka "$(kafka_pid)" "$RETENTION_KAFKA_PORT" "$extra"
else
  echo "kafka: stopped"
  code=3
fi
if pg_running; then
  describe postgres "$(pg_pid)" "$RETENTION_PG_PORT" ""
else
  echo "postgres: stopped"
  code=3
fi
exit "$code"
