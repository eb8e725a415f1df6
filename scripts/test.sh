#!/usr/bin/env bash
# The whole test suite: lint, type check, unit tests, then the e2e project against a real Kafka
# broker and PostgreSQL (from KAFKA_BROKERS/DATABASE_URL, testcontainers, or deploy/local, which
# the e2e global setup starts and stops again if it was not running), then the 3-broker cluster
# failover tests against deploy/local's cluster.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_deps
ensure_test_tools
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
# The 3-broker failover tests (vitest.cluster.config.ts, `npm run test:cluster`) after the main run,
# so that the three brokers never share the machine with it. Only on a full run (no arguments);
# RETENTION_TEST_CLUSTER=false skips them.
if [ $# -eq 0 ] && [ "${RETENTION_TEST_CLUSTER:-true}" != false ]; then
  say "3-broker cluster failover (deploy/local, RETENTION_KAFKA_BROKERS=3)"
  npx vitest run --config vitest.cluster.config.ts
fi
say "test suite finished in $(( $(date +%s) - start )) s"
