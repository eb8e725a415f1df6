#!/usr/bin/env bash
# The main job: the local stack (Kafka + PostgreSQL), then every domain service with demo data,
# then the coordinator. Processes run in the background; `npm run stop` stops them by PID.
# RETENTION_KAFKA_SECURITY=sasl: the same on the secured stack (SASL/SCRAM + ACLs, its own state
# dir and ports), each process logged in as its own Kafka principal.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_deps

SERVICES=(sessions orders analytics support ml-data)
SECURITY="${RETENTION_KAFKA_SECURITY:-none}"
# The secured stack's processes get ports of their own, so both stacks can run at once.
if [ "$SECURITY" = sasl ]; then port_base=18180; else port_base=18080; fi
API_PORT="${RETENTION_API_PORT:-$port_base}"
FIRST_SERVICE_PORT="${RETENTION_SERVICE_PORT_BASE:-$((port_base + 1))}"
# Local-only secrets: fine for a laptop, never for a deployment (see README, Configuration).
REQUESTER_TOKEN="${RETENTION_DEMO_REQUESTER_TOKEN:-requester-demo-token-change-me}"
ADMIN_TOKEN="${RETENTION_DEMO_ADMIN_TOKEN:-admin-demo-token-change-me}"
AUDITOR_TOKEN="${RETENTION_DEMO_AUDITOR_TOKEN:-auditor-demo-token-change-me}"

# Preconditions before anything starts: the HTTP ports of the processes are free (a process of
# this stack that already runs keeps its own).
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running_here() { [ -f "$RUN_DIR/$1.pid" ] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }
taken=()
port=$FIRST_SERVICE_PORT
for s in "${SERVICES[@]}"; do
  if ! running_here "$s" && port_taken "$port"; then taken+=("127.0.0.1:$port ($s)"); fi
  port=$((port + 1))
done
if ! running_here coordinator && port_taken "$API_PORT"; then taken+=("127.0.0.1:$API_PORT (coordinator)"); fi
if [ ${#taken[@]} -gt 0 ]; then
  echo "cannot start, ports already taken by other processes: ${taken[*]}; set RETENTION_API_PORT / RETENTION_SERVICE_PORT_BASE (nothing was started)" >&2
  exit 1
fi

bash deploy/local/up.sh
# shellcheck disable=SC1091
set -a; source "$LOCAL_DIR/stack.env"; set +a
mkdir -p "$RUN_DIR"

base_url="$DATABASE_URL"

# Signing keys (Ed25519), made once per state dir: the coordinator signs commands and holds, each
# service its acks and registration. Private keys stay in files only the owner can read.
KEYS_DIR="$LOCAL_DIR/keys"
ensure_key() {
  local name=$1
  [ -s "$KEYS_DIR/$name.key" ] && [ -s "$KEYS_DIR/$name.pub" ] && return
  mkdir -p "$KEYS_DIR" && chmod 0700 "$KEYS_DIR"
  # shellcheck disable=SC2016 # node code
  (umask 077 && node -e '
    const { generateKeyPairSync } = require("node:crypto");
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const fs = require("node:fs");
    fs.writeFileSync(process.argv[1], privateKey.export({ format: "der", type: "pkcs8" }).subarray(16).toString("base64url") + "\n");
    fs.writeFileSync(process.argv[2], publicKey.export({ format: "jwk" }).x + "\n");
  ' "$KEYS_DIR/$name.key" "$KEYS_DIR/$name.pub")
}
public_key() { tr -d '\n' <"$KEYS_DIR/$1.pub"; }
# The key-encryption key of the command keys (subject ids in commands and holds are sealed): shared
# by the coordinator and every service, made once, readable by the owner only.
if [ ! -s "$KEYS_DIR/command.kek" ]; then
  mkdir -p "$KEYS_DIR" && chmod 0700 "$KEYS_DIR"
  (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))' >"$KEYS_DIR/command.kek")
fi
COMMAND_KEK=$(cat "$KEYS_DIR/command.kek")
ensure_key coordinator
for s in "${SERVICES[@]}"; do ensure_key "$s"; done
trusted_services=""
for s in "${SERVICES[@]}"; do trusted_services="${trusted_services:+$trusted_services,}$s:$s-local-1=$(public_key "$s")"; done
db_url() { node -e 'const u=new URL(process.argv[1]); u.pathname="/"+process.argv[2]; console.log(u.toString())' "$base_url" "$1"; }

# start NAME PORT ENTRYPOINT [VAR=VALUE...]: one node process, PID in .local/run/NAME.pid.
start() {
  local name=$1 port=$2 entry=$3; shift 3
  local pidfile="$RUN_DIR/$name.pid" log="$RUN_DIR/$name.log"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  # On the secured stack each process logs in as the Kafka principal of its own name; the
  # mechanism and the credentials dir come from stack.env.
  local login=()
  if [ "$SECURITY" = sasl ]; then
    login=(KAFKA_SASL_USERNAME="$name" KAFKA_SASL_PASSWORD_FILE="$RETENTION_KAFKA_CREDENTIALS_DIR/$name.password")
  fi
  # Absolute entry path: `npm run stack:status` shows which clone a process runs from.
  # RETENTION_STACK_DIR: stop/status find the process by it even without its PID file.
  # The instrument preload gives kafkajs spans (an ES module import needs a loader hook).
  env "$@" "${login[@]}" HTTP_PORT="$port" TSX_TSCONFIG_PATH="$ROOT/tsconfig.runtime.json" RETENTION_STACK_DIR="$LOCAL_DIR" \
    node --import tsx --import @retention/observability/instrument "$ROOT/$entry" >>"$log" 2>&1 &
  echo $! >"$pidfile"
  started_now+=("$!")
  say "$name starting (pid $!, log $log)"
}

# A start that fails stops the processes this run started (the stack stays up for the next try;
# `npm run stop` stops it too).
started_now=()
stop_started_now() {
  local status=$? pid alive _
  [ "$status" -ne 0 ] && [ ${#started_now[@]} -gt 0 ] || return "$status"
  say "start failed: stopping the processes this run started (${started_now[*]})"
  kill -TERM "${started_now[@]}" 2>/dev/null || true
  for _ in $(seq 1 60); do
    alive=""
    for pid in "${started_now[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -n "$alive" ] || break
    sleep 0.5
  done
  kill -KILL "${started_now[@]}" 2>/dev/null || true
  return "$status"
}
trap stop_started_now EXIT

wait_ready() {
  local name=$1 port=$2
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then say "$name ready on 127.0.0.1:$port"; return; fi
    if ! kill -0 "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null; then
      echo "$name exited during start; last log lines:" >&2; tail -n 30 "$RUN_DIR/$name.log" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "$name did not become ready in 60 s; see $RUN_DIR/$name.log" >&2; exit 1
}

# The coordinator's migrations run as the stack's owner role, the coordinator as a role that may
# only append to and read the ledger (made by up.sh; an external DATABASE_URL: one role, and a warning).
coordinator_db=(DATABASE_URL="$(db_url coordinator)")
if [ -n "${DATABASE_COORDINATOR_URL:-}" ]; then
  coordinator_db=(DATABASE_MIGRATIONS_URL="$(db_url coordinator)" DATABASE_URL="$(base_url=$DATABASE_COORDINATOR_URL db_url coordinator)")
fi

# The setup steps a deployment runs as Jobs (docs/deploy.md), run here too: the topics, then every
# database's migrations (in parallel). The processes then start as on a cluster: they create no
# topic and run no DDL (RETENTION_CREATE_TOPICS=false, DATABASE_MIGRATE=false), they check. The
# secured stack's topics and ACLs are made by deploy/local, as its admin.
retention_cli() { node "$ROOT/services/cli/bin/retention.mjs" "$@" >>"$RUN_DIR/setup.log" 2>&1; }
setup_failed() { echo "$1 failed; see $RUN_DIR/setup.log" >&2; tail -n 20 "$RUN_DIR/setup.log" >&2; exit 1; }
if [ "$SECURITY" != sasl ]; then retention_cli topics apply || setup_failed "retention topics apply"; fi
migrations=()
for s in "${SERVICES[@]}"; do
  (DATABASE_URL="$(db_url "$(echo "$s" | tr '-' '_')")" DATABASE_AUTO_CREATE=true retention_cli migrate "$s") &
  migrations+=("$!:$s")
done
(export "${coordinator_db[@]}" DATABASE_AUTO_CREATE=true && retention_cli migrate coordinator) &
migrations+=("$!:coordinator")
# Every migration this started is waited for, a failed one too: none is left running behind the exit.
failed_migration=""
for m in "${migrations[@]}"; do wait "${m%%:*}" || failed_migration="${failed_migration:-${m#*:}}"; done
[ -z "$failed_migration" ] || setup_failed "retention migrate $failed_migration"
say "topics and migrations applied (retention topics apply, retention migrate)"
cluster=(RETENTION_CREATE_TOPICS=false DATABASE_MIGRATE=false)

port=$FIRST_SERVICE_PORT
for s in "${SERVICES[@]}"; do
  mkdir -p "$LOCAL_DIR/files/$s"
  start "$s" "$port" "services/$s/src/main.ts" "${cluster[@]}" \
    DATABASE_URL="$(db_url "$(echo "$s" | tr '-' '_')")" DEMO_DATA=true \
    RETENTION_HASH_KEY="local-demo-hash-key-change-me" RETENTION_FILES_ROOT="$LOCAL_DIR/files/$s" \
    RETENTION_SIGNING_KEY_FILE="$KEYS_DIR/$s.key" RETENTION_SIGNING_KEY_ID="$s-local-1" \
    RETENTION_COORDINATOR_PUBLIC_KEYS="coordinator-local-1=$(public_key coordinator)" RETENTION_COMMAND_KEK="$COMMAND_KEK"
  port=$((port + 1))
done
port=$FIRST_SERVICE_PORT
for s in "${SERVICES[@]}"; do wait_ready "$s" "$port"; port=$((port + 1)); done

start coordinator "$API_PORT" services/coordinator/src/main.ts "${cluster[@]}" \
  "${coordinator_db[@]}" \
  RETENTION_API_TOKENS="admin:$ADMIN_TOKEN,requester:$REQUESTER_TOKEN,auditor:$AUDITOR_TOKEN" \
  RETENTION_SUBJECT_HMAC_KEY="local-demo-hmac-key-change-me" \
  RETENTION_SIGNING_KEY_FILE="$KEYS_DIR/coordinator.key" RETENTION_SIGNING_KEY_ID=coordinator-local-1 \
  RETENTION_SERVICE_PUBLIC_KEYS="$trusted_services" RETENTION_COMMAND_KEK="$COMMAND_KEK"
wait_ready coordinator "$API_PORT"

API="http://127.0.0.1:$API_PORT"
cat <<MSG

  Retention platform is up$([ "$SECURITY" = sasl ] && printf ' on the secured broker (%s, SASL/SCRAM + ACLs, one principal per process)' "$KAFKA_BROKERS").
    API:      $API          (metrics: $API/metrics)
    Services: ${SERVICES[*]} (demo subjects user:demo-1 … user:demo-100)
    Tokens:   requester=$REQUESTER_TOKEN  admin=$ADMIN_TOKEN  auditor=$AUDITOR_TOKEN

  Erase one demo user:
    curl -s -X POST $API/v1/erasure-requests \\
      -H 'Authorization: Bearer $REQUESTER_TOKEN' -H 'Content-Type: application/json' \\
      -d '{"subject":{"type":"user","id":"demo-1"},"reason":"demo"}'

  Then see it complete (use the id printed by the first command):
    curl -s $API/v1/erasure-requests/<id> -H 'Authorization: Bearer $REQUESTER_TOKEN'

  The demo data holds records past their retention period (see retention_oldest_unprocessed_days
  on each service's /metrics). New policies run dry only until an admin enables them: dry-run the
  sweep, check its counts, enable the policies, then sweep for real (or wait for the nightly run):
    export RETENTION_API_URL=$API RETENTION_API_TOKEN=$ADMIN_TOKEN
    npm run retention -- sweep --dry-run --wait
    npm run retention -- policies enable sessions session_logs     # and each other policy:
      # orders purchase_records, analytics product_events, support resolved_tickets,
      # ml-data training_records, ml-data inference_logs, ml-data model_artifacts
    npm run retention -- sweep --wait

  Logs: $RUN_DIR/*.log      Stop everything: npm run stop$([ "$SECURITY" = sasl ] && printf ' (or RETENTION_KAFKA_SECURITY=sasl npm run stop: this stack only)')

MSG
