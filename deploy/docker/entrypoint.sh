#!/bin/sh
# Entrypoint of the retention image: `entrypoint.sh <process> [args]`.
#   coordinator | orders | sessions | analytics | support | ml-data   run that process (node dist/main.js)
#   migrate <coordinator|service>                                     run its database migrations and exit
#   topics                                                            create the topics (and ACLs) and exit
# Secret files: the processes read RETENTION_SIGNING_KEY_FILE, KAFKA_SASL_PASSWORD_FILE and the
# KAFKA_SSL_*_FILE paths themselves. The keys below have no *_FILE form in the config schemas yet,
# so this script reads `<KEY>_FILE` into `<KEY>` before starting node (a trailing newline is
# dropped). The value then lives in the process's environment: readable by the same uid only.
set -eu

FILE_BACKED_KEYS="DATABASE_URL DATABASE_MIGRATIONS_URL RETENTION_API_TOKENS RETENTION_SUBJECT_HMAC_KEY RETENTION_COMMAND_KEK RETENTION_HASH_KEY RETENTION_COORDINATOR_PUBLIC_KEYS RETENTION_SERVICE_PUBLIC_KEYS RETENTION_CHECKPOINT_PUBLIC_KEYS"

for key in $FILE_BACKED_KEYS; do
  eval "file=\${${key}_FILE:-}"
  [ -n "$file" ] || continue
  eval "value=\${${key}:-}"
  if [ -n "$value" ]; then
    echo "entrypoint: set either $key or ${key}_FILE, not both" >&2
    exit 64
  fi
  if [ ! -r "$file" ] || [ ! -s "$file" ]; then
    echo "entrypoint: ${key}_FILE: cannot read $file (missing, empty or not readable)" >&2
    exit 64
  fi
  value=$(cat "$file")
  export "$key=$value"
  unset "${key}_FILE"
done

# pg and kafkajs spans: the instrumentations' ESM loader hook must be registered before the
# application's imports (libs/observability, "instrument").
APP=${RETENTION_APP_DIR:-/app}
preload=""
[ -f "$APP/libs/observability/dist/instrument.js" ] && preload="--import=@retention/observability/instrument"

process=${1:-coordinator}
[ $# -gt 0 ] && shift
case "$process" in
  coordinator | orders | sessions | analytics | support | ml-data)
    cd "$APP" && exec node $preload "$APP/services/$process/dist/main.js" "$@" ;;
  migrate)
    cd "$APP" && exec node "$APP/deploy/docker/migrate.mjs" "$@" ;;
  topics)
    cd "$APP" && exec node "$APP/deploy/docker/topics.mjs" "$@" ;;
  *)
    echo "entrypoint: unknown process '$process' (coordinator, orders, sessions, analytics, support, ml-data, migrate, topics)" >&2
    exit 64 ;;
esac
