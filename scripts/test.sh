#!/usr/bin/env bash
# The whole test suite: lint, type check, unit tests, then the e2e project against a real Kafka
# broker and PostgreSQL (from KAFKA_BROKERS/DATABASE_URL, testcontainers, or deploy/local, which
# the e2e global setup starts and stops again if it was not running).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_deps
ensure_test_tools
ensure_schemathesis
start=$(date +%s)
say "type check (every project in one pass; per project: npx nx run-many -t typecheck)"
npx tsc -p tsconfig.runtime.json --noEmit
npx tsc -p tsconfig.json --noEmit
say "build (npm run build: every lib and service to dist/, as production runs them)"
npm run build --silent
say "lint"
# The module-boundary rule reads Nx's project graph; compute it first (no daemon, no network).
npx nx show projects >/dev/null
npx eslint . --max-warnings 0
npx prettier --check . --log-level warn
say "tests"
npx vitest run "$@"
say "test suite finished in $(( $(date +%s) - start )) s"
