#!/usr/bin/env bash
# `npm run bench`: the benchmarks of test/bench against a real Kafka broker and PostgreSQL server.
# Uses KAFKA_BROKERS / DATABASE_URL from the environment; otherwise starts (or reuses) the local
# stack with deploy/local/up.sh and reads its stack.env (see deploy/local/README.md for where). Figures go to bench-results/.
# Select benchmarks with BENCH_ONLY=sweep-delete,sweep-anonymize,fanout,gauge; sizes: see README.md.
# ROOT, LOCAL_DIR (the local stack's state dir), NODE_OPTIONS and ensure_deps (npm ci on a fresh clone).
# shellcheck source=../../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$ROOT"
ensure_deps

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${DATABASE_URL:-}" ]; then
  # up.sh is idempotent: a running stack is reused; a component given in the environment is skipped.
  bash deploy/local/up.sh >&2
  env_file="$LOCAL_DIR/stack.env"
  [ -f "$env_file" ] || { echo "bench: $env_file was not written by deploy/local/up.sh" >&2; exit 1; }
  while IFS='=' read -r key value; do
    case "$key" in
      KAFKA_BROKERS) [ -n "${KAFKA_BROKERS:-}" ] || export KAFKA_BROKERS="$value" ;;
      DATABASE_URL) [ -n "${DATABASE_URL:-}" ] || export DATABASE_URL="$value" ;;
    esac
  done <"$env_file"
fi

export TSX_TSCONFIG_PATH="$ROOT/tsconfig.runtime.json"
# NODE_OPTIONS (scripts/lib.sh): workspace packages from their sources (export condition
# "@retention/source"), here and in the processes benchmarks start.
# BENCH_ENTRY: another entry (npm run bench:startup).
exec node --import tsx "${BENCH_ENTRY:-test/bench/main.ts}" "$@"
