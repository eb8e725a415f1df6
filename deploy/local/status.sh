#!/usr/bin/env bash
# One line per component; exit 0 when both run, 3 otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
code=0
if kafka_running; then echo "kafka: running pid $(kafka_pid) 127.0.0.1:$KAFKA_PORT (Apache Kafka $KAFKA_VERSION)"; else echo "kafka: stopped"; code=3; fi
if pg_running; then echo "postgresql: running pid $(pg_pid) 127.0.0.1:$PG_PORT"; else echo "postgresql: stopped"; code=3; fi
exit $code
