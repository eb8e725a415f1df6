#!/bin/sh
# Entrypoint of the retention image: `entrypoint.sh <process> [args]`.
#   coordinator | orders | sessions | analytics | support | ml-data   run that process (node dist/main.js)
#   retention <command> [args]                                        the `retention` CLI, e.g.
#       retention topics apply                                        create the topics (and ACLs) and exit
#       retention migrate <coordinator|service>                       apply that database's migrations and exit
#   topics, migrate <coordinator|service>                             the same two, as earlier images named them
# Secrets: every process reads `<KEY>_FILE` itself (the config schemas' *_FILE rule, libs/config),
# so secret values never enter the environment; nothing to do here.
set -eu

# pg and kafkajs spans: the instrumentations' ESM loader hook must be registered before the
# application's imports (libs/observability, "instrument").
APP=${RETENTION_APP_DIR:-/app}
preload=""
[ -f "$APP/libs/observability/dist/instrument.js" ] && preload="--import=@retention/observability/instrument"
CLI="$APP/services/cli/dist/bin.js"

process=${1:-coordinator}
[ $# -gt 0 ] && shift
case "$process" in
  coordinator | orders | sessions | analytics | support | ml-data)
    cd "$APP" && exec node $preload "$APP/services/$process/dist/main.js" "$@" ;;
  retention)
    cd "$APP" && exec node "$CLI" "$@" ;;
  topics)
    cd "$APP" && exec node "$CLI" topics apply "$@" ;;
  migrate)
    cd "$APP" && exec node "$CLI" migrate "$@" ;;
  *)
    echo "entrypoint: unknown process '$process' (coordinator, orders, sessions, analytics, support, ml-data, retention, topics, migrate)" >&2
    exit 64 ;;
esac
