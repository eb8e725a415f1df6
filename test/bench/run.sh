#!/usr/bin/env bash
# `npm run bench`: the benchmarks of test/bench against a real Kafka broker and PostgreSQL server.
# Uses KAFKA_BROKERS / DATABASE_URL from the environment; otherwise starts (or reuses) the local
# stack with deploy/local/up.sh and reads .local/stack.env. Figures go to bench-results/.
# Select benchmarks with BENCH_ONLY=sweep-delete,sweep-anonymize,fanout,gauge; sizes: see README.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${DATABASE_URL:-}" ]; then
  # up.sh is idempotent: a running stack is reused; a component given in the environment is skipped.
  bash deploy/local/up.sh >&2
  env_file="${RETENTION_LOCAL_DIR:-$ROOT/.local}/stack.env"
  [ -f "$env_file" ] || { echo "bench: $env_file was not written by deploy/local/up.sh" >&2; exit 1; }
  while IFS='=' read -r key value; do
    case "$key" in
      KAFKA_BROKERS) [ -n "${KAFKA_BROKERS:-}" ] || export KAFKA_BROKERS="$value" ;;
      DATABASE_URL) [ -n "${DATABASE_URL:-}" ] || export DATABASE_URL="$value" ;;
    esac
  done <"$env_file"
fi

export TSX_TSCONFIG_PATH="$ROOT/tsconfig.runtime.json"
# Workspace packages from their sources (export condition "@retention/source"), here and in the processes benchmarks start.
export NODE_OPTIONS="--conditions=@retention/source${NODE_OPTIONS:+ $NODE_OPTIONS}"
# BENCH_ENTRY: another entry (npm run bench:startup).
exec node --import tsx "${BENCH_ENTRY:-test/bench/main.ts}" "$@"
