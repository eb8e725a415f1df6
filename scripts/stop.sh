#!/usr/bin/env bash
# Stops what `npm start` started: the node processes (all at once, found by their environment and
# PID files) and the local stack (Kafka, PostgreSQL), by deploy/local/down.sh. Without
# RETENTION_KAFKA_SECURITY / RETENTION_LOCAL_DIR: every stack of this clone (the plain one, the
# secured one, any RETENTION_LOCAL_DIR that up.sh was run with); with them: that one only.
# `npm run stop -- --purge` also deletes their data.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
exec bash deploy/local/down.sh "$@"
