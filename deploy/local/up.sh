#!/usr/bin/env bash
# Starts the local stack: a single-node Apache Kafka broker (KRaft) fetched from Maven Central and
# PostgreSQL from this machine's binaries, both on 127.0.0.1. A running stack is reused.
# KAFKA_BROKERS / DATABASE_URL set in the environment: that component is external and skipped.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started_at=$(date +%s)
mkdir -p "$STATE_DIR"

fetch_kafka() {
  [ -f "$KAFKA_LIBS/.complete" ] && return
  command -v java >/dev/null || install_or_die "Java 17+ (java)" openjdk-17-jre-headless
  command -v mvn >/dev/null || install_or_die "Maven (mvn)" maven
  log "fetching Apache Kafka $KAFKA_VERSION and its dependencies from Maven Central (once; cached in $KAFKA_LIBS)"
  local tmp="$KAFKA_LIBS.tmp.$$"
  rm -rf "$tmp"
  mvn -q -B -Dstyle.color=never -f "$LOCAL_STACK_DIR/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" -Dkafka.version="$KAFKA_VERSION" \
    || { rm -rf "$tmp"; die "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"; }
  touch "$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
}

start_kafka() {
  if kafka_running; then kafka_state="reused (pid $(kafka_pid))"; return; fi
  rm -f "$KAFKA_PID_FILE"
  command -v java >/dev/null || install_or_die "Java 17+ (java)" openjdk-17-jre-headless
  fetch_kafka
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is in use by another process (set RETENTION_KAFKA_PORT, or KAFKA_BROKERS to use that broker)"
  mkdir -p "$KAFKA_DIR/data"
  sed -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" -e "s#@DATA_DIR@#$KAFKA_DIR/data#g" \
    "$LOCAL_STACK_DIR/kafka/server.properties.in" >"$KAFKA_DIR/server.properties"
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC "-Dlog4j2.configurationFile=$LOCAL_STACK_DIR/kafka/log4j2.properties" -cp "$KAFKA_LIBS/*")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    [ -f "$KAFKA_DIR/cluster.id" ] || java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 >"$KAFKA_DIR/cluster.id"
    log "formatting Kafka storage (cluster $(cat "$KAFKA_DIR/cluster.id"))"
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "$(cat "$KAFKA_DIR/cluster.id")" \
      -c "$KAFKA_DIR/server.properties" --ignore-formatted >>"$KAFKA_LOG" 2>&1 || { tail -n 20 "$KAFKA_LOG" >&2; die "Kafka storage format failed"; }
  fi
  # setsid: the broker outlives this script and its terminal; stopped by PID with down.sh.
  setsid nohup java "${java_opts[@]}" kafka.Kafka "$KAFKA_DIR/server.properties" >>"$KAFKA_LOG" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID_FILE"
  kafka_state="started (pid $!)"
}

wait_kafka() {
  local pid; pid=$(kafka_pid)
  for _ in $(seq 1 180); do
    if ! kill -0 "$pid" 2>/dev/null; then tail -n 40 "$KAFKA_LOG" >&2; die "Kafka exited during start (log: $KAFKA_LOG)"; fi
    if port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$KAFKA_LOG"; then return; fi
    sleep 0.5
  done
  tail -n 40 "$KAFKA_LOG" >&2
  die "Kafka did not start within 90 s (log: $KAFKA_LOG)"
}

start_postgres() {
  local bin
  bin=$(pg_bin_dir) || { install_or_die "PostgreSQL server binaries" postgresql; bin=$(pg_bin_dir) || die "PostgreSQL binaries not found after install (set RETENTION_PG_BIN)"; }
  if pg_running; then pg_state="reused (pid $(pg_pid))"; PG_BIN=$bin; return; fi
  PG_BIN=$bin
  port_open "$PG_PORT" && die "port $PG_PORT is in use by another process (set RETENTION_PG_PORT, or DATABASE_URL to use that server)"
  local user; user=$(pg_user)
  mkdir -p "$PG_DIR" "$PG_RUN"
  chown "$user" "$PG_DIR" "$PG_RUN"
  as_pg test -x "$STATE_DIR" -a -w "$PG_DIR" \
    || die "user '$user' cannot reach $PG_DIR (a parent directory is not traversable); set RETENTION_LOCAL_DIR to a directory it can reach"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initializing PostgreSQL data directory ($("$bin/postgres" --version))"
    as_pg "$bin/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
    cat >>"$PG_DATA/postgresql.conf" <<CONF
# retention local stack
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 200
shared_buffers = 256MB
CONF
  fi
  rm -f "$PG_DATA/postmaster.pid.stale"
  as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null || { tail -n 20 "$PG_LOG" >&2; die "PostgreSQL did not start (log: $PG_LOG)"; }
  pg_state="started (pid $(pg_pid))"
}

ensure_pg_role() {
  local psql=("$PG_BIN/psql" -X -q -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  for _ in $(seq 1 60); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
  as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'retention'" | grep -q 1 \
    || as_pg "${psql[@]}" -c "CREATE ROLE retention LOGIN CREATEDB PASSWORD 'retention'"
  as_pg "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'retention'" | grep -q 1 \
    || as_pg "${psql[@]}" -c "CREATE DATABASE retention OWNER retention"
}

kafka_state=""
pg_state="external"
if [ -z "${KAFKA_BROKERS:-}" ]; then start_kafka; else kafka_state="external ($KAFKA_BROKERS)"; fi
if [ -z "${DATABASE_URL:-}" ]; then start_postgres; ensure_pg_role; fi
if [ -z "${KAFKA_BROKERS:-}" ]; then wait_kafka; fi

brokers="${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
database="${DATABASE_URL:-postgres://retention:retention@127.0.0.1:$PG_PORT/retention}"
printf 'KAFKA_BROKERS=%s\nDATABASE_URL=%s\n' "$brokers" "$database" >"$STATE_DIR/stack.env"
log "kafka $KAFKA_VERSION: $kafka_state"
log "postgresql: $pg_state"
log "ready in $(( $(date +%s) - started_at )) s; settings in $STATE_DIR/stack.env:"
cat "$STATE_DIR/stack.env"
