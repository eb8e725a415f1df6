#!/usr/bin/env bash
# logs.sh kafka|kafka-<node>|postgres [-f]   (kafka = node 1; a cluster's node 2: kafka-2)
# Prints the last lines of a component's log (RETENTION_LOG_LINES, default 100); -f keeps
# following it, across the log rotation up.sh does when it restarts Kafka.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  echo "usage: logs.sh kafka|kafka-<node>|postgres [-f]" >&2
  exit 2
}

case "${1:-}" in
  kafka) file=$KAFKA_LOG ;;
  kafka-[1-9])
    [ "${1#kafka-}" -le "$RETENTION_KAFKA_BROKERS" ] || die "this stack has $RETENTION_KAFKA_BROKERS Kafka node(s)"
    kafka_node "${1#kafka-}"
    file=$KAFKA_LOG
    ;;
  postgres | postgresql | pg) file=$PG_LOG ;;
  *) usage ;;
esac
follow=""
case "${2:-}" in
  "") ;;
  -f | --follow) follow=1 ;;
  *) usage ;;
esac
lines="${RETENTION_LOG_LINES:-100}"

if [ -n "$follow" ]; then
  # -F: follow the name, so a restarted broker's new kafka.log is picked up.
  exec tail -n "$lines" -F "$file"
fi
[ -f "$file" ] || die "no log yet: $file (has up.sh run with this state dir?)"
exec tail -n "$lines" "$file"
