#!/usr/bin/env bash
# Starts the local stack without Docker: a single-node Apache Kafka broker (KRaft), whose jars
# Maven fetches from Maven Central once, and PostgreSQL from this machine's server binaries.
# RETENTION_KAFKA_BROKERS=3: a 3-node KRaft cluster instead (same jars, a stack of its own).
# Both listen on 127.0.0.1 only and keep their data under the state dir (default <repo>/.local).
#
# Idempotent: a component that already runs from this state dir is reused, not restarted, so
# tests and `npm start` may call this as often as they like. KAFKA_BROKERS / DATABASE_URL set in
# the environment mean "use that server": the component is then neither checked nor started.
#
# Progress goes to stderr; on success stdout gets exactly the lines also written to
# <state dir>/stack.env, e.g.
#   KAFKA_BROKERS=127.0.0.1:19092
#   DATABASE_URL=postgres://retention:retention@127.0.0.1:15432/retention
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -gt 0 ]; then
  echo "usage: up.sh   (configured by environment variables; see deploy/local/README.md)" >&2
  exit 2
fi

started_ms=$(now_ms)

use_kafka=1
use_pg=1
[ -n "${KAFKA_BROKERS:-}" ] && use_kafka=""
[ -n "${DATABASE_URL:-}" ] && use_pg=""
# Only the broker, and no DATABASE_URL in stack.env: the tests run the secured broker beside the
# plain stack, whose PostgreSQL serves both.
no_pg=""
case "${RETENTION_KAFKA_ONLY:-false}" in
  true | 1) no_pg=1 use_pg="" ;;
  false | 0) ;;
  *) die "RETENTION_KAFKA_ONLY must be true or false" ;;
esac

# The state dir path is written into config files and into pg_ctl's -o string, which a shell
# parses: spaces are quoted there, but a quote, backslash or control character would break them
# in ways that are hard to diagnose later.
case "$STATE_DIR" in
  *[\'\"\\]* | *[[:cntrl:]]*) die "the state dir '$STATE_DIR' contains a quote, a backslash or a control character; set RETENTION_LOCAL_DIR to a plain path" ;;
esac
for port in "$RETENTION_KAFKA_PORT" "$RETENTION_KAFKA_CONTROLLER_PORT" ${RETENTION_KAFKA_BROKER_PORT:+"$RETENTION_KAFKA_BROKER_PORT"} "$RETENTION_PG_PORT"; do
  case "$port" in '' | *[!0-9]*) die "ports must be numbers (got '$port')" ;; esac
done
# The ports of the selected node (kafka_node), and of every node.
node_ports() {
  kafka_ports=("$KAFKA_NODE_PORT" "$KAFKA_NODE_CONTROLLER_PORT")
  if [ "$RETENTION_KAFKA_SECURITY" = sasl ]; then kafka_ports+=("$RETENTION_KAFKA_BROKER_PORT"); fi
}
all_kafka_ports=()
for node in $KAFKA_NODES; do
  kafka_node "$node"
  node_ports
  all_kafka_ports+=("${kafka_ports[@]}")
done
kafka_node 1
if [ "$(printf '%s\n' "${all_kafka_ports[@]}" "$RETENTION_PG_PORT" | sort -u | wc -l)" -ne $((${#all_kafka_ports[@]} + 1)) ]; then
  die "the ports overlap: ${all_kafka_ports[*]} $RETENTION_PG_PORT (node i of a cluster listens on RETENTION_KAFKA_PORT + 2(i-1) and RETENTION_KAFKA_CONTROLLER_PORT + 2(i-1))"
fi

# A listen port inside the kernel's ephemeral range can be taken at any moment as the local end
# of an outgoing connection (the broker's own connection to its controller port, say), and then
# the server fails to bind it (seen with 39092/39093). The defaults lie below the usual range, and
# a taken port is checked before anything starts; this hint is printed only when a bind failed.
ephemeral_port_hint() {
  local port eph_low eph_high
  read -r eph_low eph_high 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range || return 0
  for port in "${all_kafka_ports[@]}" "$RETENTION_PG_PORT"; do
    if [ "$port" -ge "$eph_low" ] && [ "$port" -le "$eph_high" ]; then
      log "hint: port $port is in the ephemeral port range $eph_low-$eph_high, where outgoing connections take ports at random; prefer ports below $eph_low"
    fi
  done
}

# Directories we create must be enterable by the postgres OS user, whatever the caller's umask.
umask 022
mkdir -p "$STATE_DIR"
# A state dir someone else made (in /var/tmp, say) could hand our servers files of theirs.
if [ "$(stat -c %u "$STATE_DIR")" != "$(id -u)" ]; then
  die "$STATE_DIR belongs to $(stat -c %U "$STATE_DIR"), not to $(id -un); remove it or set RETENTION_LOCAL_DIR to a directory of yours"
fi
take_lock

# ---------------------------------------------------------------------------------------------
# Prerequisites: Java 17+ and Maven for Kafka, PostgreSQL 15+ server binaries for the database.

ensure_prerequisites() {
  local missing=() packages=() pkg no_main_cluster=""
  JAVA=""
  PG_BIN=""
  if [ -n "$use_kafka" ]; then
    find_java || missing+=("java")
    # Maven is needed only until the broker's jars are cached.
    if [ ! -d "$KAFKA_LIBS" ] && ! command -v mvn >/dev/null 2>&1; then missing+=("mvn"); fi
  fi
  if [ -n "$use_pg" ]; then
    find_pg_bin || missing+=("postgresql")
  fi
  [ ${#missing[@]} -eq 0 ] && return 0

  if ! can_apt_install; then
    local hints=()
    for pkg in "${missing[@]}"; do
      case "$pkg" in
        java) hints+=("Java 17 or newer (Debian/Ubuntu: openjdk-17-jre-headless; or set JAVA_HOME)") ;;
        mvn) hints+=("Apache Maven 3.6.3 or newer (Debian/Ubuntu: maven)") ;;
        postgresql) hints+=("PostgreSQL $PG_MIN_MAJOR or newer server binaries (Debian/Ubuntu: postgresql-$PG_MIN_MAJOR or postgresql; or set RETENTION_PG_BIN to the directory holding postgres, pg_ctl and initdb)") ;;
      esac
    done
    log "missing prerequisites:"
    for pkg in "${hints[@]}"; do log "  - $pkg"; done
    die "install the above (as root: apt-get install -y --no-install-recommends <package>), or point the stack at existing servers with KAFKA_BROKERS / DATABASE_URL"
  fi

  apt_update_once
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      java)
        pkg=$(apt_first_available openjdk-17-jre-headless openjdk-21-jre-headless default-jre-headless) \
          || die "apt has no Java runtime package (openjdk-17-jre-headless)"
        packages+=("$pkg")
        ;;
      mvn) packages+=(maven) ;;
      postgresql)
        pkg=$(apt_first_available "postgresql-$PG_MIN_MAJOR" postgresql) \
          || die "apt has no PostgreSQL server package (postgresql-$PG_MIN_MAJOR or postgresql)"
        packages+=("$pkg")
        # Debian's package would otherwise create and start a system-wide cluster on port 5432
        # that this stack neither needs nor stops. postgresql-common reads this switch from
        # createcluster.conf, which includes createcluster.d/ (a drop-in survives its upgrades).
        if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
          mkdir -p /etc/postgresql-common
          echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
          no_main_cluster=/etc/postgresql-common/createcluster.conf
        elif grep -qs '^include_dir.*createcluster\.d' /etc/postgresql-common/createcluster.conf; then
          mkdir -p /etc/postgresql-common/createcluster.d
          echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/retention-local-stack.conf
          no_main_cluster=/etc/postgresql-common/createcluster.d/retention-local-stack.conf
        fi
        ;;
    esac
  done
  log "missing: ${missing[*]}. Installing the Debian package(s) ${packages[*]} with apt-get:"
  log "  java/maven run the Kafka broker and fetch its jars from Maven Central; postgresql provides the database server"
  if [ -n "$no_main_cluster" ]; then
    log "  (create_main_cluster = false in $no_main_cluster: the package is not to start a system-wide server on port 5432)"
  fi
  apt_install "${packages[@]}"

  if [ -n "$use_kafka" ]; then
    find_java || die "no Java 17+ found even after installing ${packages[*]}; set JAVA_HOME"
    if [ ! -d "$KAFKA_LIBS" ] && ! command -v mvn >/dev/null 2>&1; then
      die "mvn still not on PATH after installing maven"
    fi
  fi
  if [ -n "$use_pg" ]; then
    find_pg_bin || die "no PostgreSQL $PG_MIN_MAJOR+ server binaries found after installing; set RETENTION_PG_BIN"
  fi
}

# ---------------------------------------------------------------------------------------------
# Kafka

# The broker's classpath, fetched once per Kafka version. Maven writes into a temporary
# directory that is renamed only when complete, so an interrupted fetch (Ctrl-C, a lost network,
# a CI timeout) can never leave a half classpath that later starts would trust.
fetch_kafka_jars() {
  [ -f "$KAFKA_LIBS/kafka_2.13-$RETENTION_KAFKA_VERSION.jar" ] && return 0
  mkdir -p "$KAFKA_CACHE_DIR"
  # Stacks of other state dirs share the cache (the plain and the secured one start at the same
  # time in the tests): one fetch at a time, and whoever waited finds the jars there.
  if command -v flock >/dev/null 2>&1; then
    exec 8>"$KAFKA_CACHE_DIR/.fetch.lock"
    flock -w 600 8 || die "another stack has been fetching the Kafka jars into $KAFKA_CACHE_DIR for 10 minutes"
    if [ -f "$KAFKA_LIBS/kafka_2.13-$RETENTION_KAFKA_VERSION.jar" ]; then
      exec 8>&-
      return 0
    fi
  fi
  # Left-overs of fetches that were killed; we hold the lock, so none is in progress.
  rm -rf "$KAFKA_CACHE_DIR"/libs.tmp.* "$KAFKA_LIBS"
  local tmp="$KAFKA_CACHE_DIR/libs.tmp.$$" fetch_log="$KAFKA_CACHE_DIR/fetch.log"
  log "fetching Apache Kafka $RETENTION_KAFKA_VERSION and its runtime dependencies with Maven (first use only; Maven caches in ~/.m2)"
  # Removed by on_exit if the fetch is interrupted.
  FETCH_TMP=$tmp
  if ! mvn -B -q -Dstyle.color=never -f "$STACK_DIR/kafka/pom.xml" \
    dependency:copy-dependencies -Dkafka.version="$RETENTION_KAFKA_VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$fetch_log" 2>&1 </dev/null; then
    tail -n 30 "$fetch_log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$RETENTION_KAFKA_VERSION (full output: $fetch_log)"
  fi
  [ -f "$tmp/kafka_2.13-$RETENTION_KAFKA_VERSION.jar" ] \
    || die "Maven finished but $tmp has no kafka_2.13-$RETENTION_KAFKA_VERSION.jar (see $fetch_log)"
  mv "$tmp" "$KAFKA_LIBS"
  FETCH_TMP=""
  exec 8>&-
  log "cached $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
}

# JVM options shared by the broker and the storage tool. The Kafka start scripts are not part of
# the Maven artifacts, so we pass what they would: heap, G1 with short pauses, headless, and our
# own log4j2 configuration.
kafka_java_opts() {
  local heap
  read -r -a heap <<<"$RETENTION_KAFKA_HEAP_OPTS"
  KAFKA_JAVA_OPTS=(
    "${heap[@]}"
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$STACK_DIR/kafka/log4j2.yaml"
    "-Dkafka.logs.dir=$KAFKA_LOGS_DIR"
    -cp "$KAFKA_LIBS/*"
  )
}

render_kafka_config() {
  local esc_data replication=1 min_insync=1
  # 3 replicas where there are 3 brokers, and acks=all then needs 2 of them (see the template).
  if [ "$RETENTION_KAFKA_BROKERS" -ge 3 ]; then
    replication=3 min_insync=2
  elif [ "$RETENTION_KAFKA_BROKERS" -eq 2 ]; then
    replication=2
  fi
  # sed replacement text: escape the characters that are special there (& \ and our | delimiter).
  esc_data=$(printf '%s' "$KAFKA_DATA" | sed 's/[&|\\]/\\&/g')
  cat "$STACK_DIR/kafka/server.properties.in" "$STACK_DIR/kafka/listeners-$RETENTION_KAFKA_SECURITY.properties.in" \
    | sed -e "s|@KAFKA_PORT@|$KAFKA_NODE_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$KAFKA_NODE_CONTROLLER_PORT|g" \
      -e "s|@NODE_ID@|$KAFKA_NODE|g" \
      -e "s|@QUORUM_VOTERS@|$(kafka_quorum_voters)|g" \
      -e "s|@REPLICATION_FACTOR@|$replication|g" \
      -e "s|@MIN_INSYNC_REPLICAS@|$min_insync|g" \
      -e "s|@BROKER_PORT@|$RETENTION_KAFKA_BROKER_PORT|g" \
      -e "s|@DATA_DIR@|$esc_data|g" >"$KAFKA_CONFIG.tmp"
  mv "$KAFKA_CONFIG.tmp" "$KAFKA_CONFIG"
}

# KRaft storage must be formatted with a cluster id before the first start. The id is kept in
# cluster.id so a re-format after deleting data/ keeps the same identity.
format_kafka_storage() {
  [ -f "$KAFKA_DATA/meta.properties" ] && return 0
  local cluster_id=""
  [ -f "$KAFKA_CLUSTER_ID_FILE" ] && read -r cluster_id <"$KAFKA_CLUSTER_ID_FILE"
  if [ -z "$cluster_id" ]; then
    cluster_id=$("$JAVA" -Xmx128m -cp "$KAFKA_LIBS/*" "-Dlog4j2.configurationFile=$STACK_DIR/kafka/log4j2.yaml" \
      kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" </dev/null 9>&- | tail -n 1)
    case "$cluster_id" in
      '' | *[!A-Za-z0-9_-]*) die "kafka.tools.StorageTool random-uuid printed '$cluster_id' instead of an id" ;;
    esac
    echo "$cluster_id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  local scram=() principal password
  if [ "$RETENTION_KAFKA_SECURITY" = sasl ]; then
    ensure_credentials
    for principal in "${KAFKA_SASL_PRINCIPALS[@]}"; do
      password=$(cat "$KAFKA_CREDENTIALS_DIR/$principal.password")
      # SCRAM-SHA-256 too: the second hash costs nothing and lets clients choose.
      scram+=(--add-scram "SCRAM-SHA-512=[name=$principal,password=$password]")
      scram+=(--add-scram "SCRAM-SHA-256=[name=$principal,password=$password]")
    done
    log "formatting Kafka storage in $KAFKA_DATA (cluster id $cluster_id) with SCRAM users: ${KAFKA_SASL_PRINCIPALS[*]}"
  else
    log "formatting Kafka storage in $KAFKA_DATA (cluster id $cluster_id)"
  fi
  # The passwords appear on this short-lived command line (StorageTool takes them nowhere else);
  # the tool's output is kept out of the log, which would repeat them on an error.
  if ! "$JAVA" "${KAFKA_JAVA_OPTS[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$KAFKA_CONFIG" --ignore-formatted "${scram[@]}" >"$KAFKA_DIR/format.out" 2>&1 </dev/null 9>&-; then
    if [ ${#scram[@]} -gt 0 ]; then
      grep -v -e 'password=' -e 'UserScramCredentialRecord' "$KAFKA_DIR/format.out" | tail -n 40 >&2
    else
      tail -n 40 "$KAFKA_DIR/format.out" >&2
    fi
    rm -f "$KAFKA_DIR/format.out"
    die "formatting Kafka storage failed"
  fi
  # Its bootstrap-metadata line lists every user's salted SCRAM hashes: not for a log.
  grep -v -e 'password=' -e 'UserScramCredentialRecord' "$KAFKA_DIR/format.out" >>"$KAFKA_LOG" || true
  rm -f "$KAFKA_DIR/format.out"
  echo "$RETENTION_KAFKA_SECURITY" >"$KAFKA_SECURITY_FILE"
}

# A random password per principal, made once and kept (0600) for the clients; the broker only has
# their salted SCRAM hashes, written when the storage is formatted.
ensure_credentials() {
  local principal file password
  (umask 077 && mkdir -p "$KAFKA_CREDENTIALS_DIR")
  chmod 0700 "$KAFKA_CREDENTIALS_DIR"
  for principal in "${KAFKA_SASL_PRINCIPALS[@]}"; do
    file="$KAFKA_CREDENTIALS_DIR/$principal.password"
    [ -s "$file" ] && continue
    # 32 characters from [A-Za-z0-9] (about 190 bits): no character that StorageTool's
    # [name=..,password=..] syntax or a shell would interpret. tr reads a bounded input to its
    # end, so no SIGPIPE trips pipefail.
    password=$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')
    password=${password:0:32}
    [ ${#password} -eq 32 ] || die "could not generate a password for $principal"
    (umask 077 && printf '%s' "$password" >"$file.tmp" && mv "$file.tmp" "$file")
  done
}

# The data dir belongs to one security mode: SCRAM users exist only if it was formatted with them,
# and a secured cluster must not come up open (or the other way round) by a changed variable.
check_kafka_security_mode() {
  [ -f "$KAFKA_DATA/meta.properties" ] || return 0
  local formatted=none principal
  [ -f "$KAFKA_SECURITY_FILE" ] && read -r formatted <"$KAFKA_SECURITY_FILE"
  if [ "$formatted" != "$RETENTION_KAFKA_SECURITY" ]; then
    die "$KAFKA_DATA was formatted for RETENTION_KAFKA_SECURITY=$formatted, not $RETENTION_KAFKA_SECURITY; use another RETENTION_LOCAL_DIR, or delete the data with down.sh --purge"
  fi
  if [ "$RETENTION_KAFKA_SECURITY" = sasl ]; then
    for principal in "${KAFKA_SASL_PRINCIPALS[@]}"; do
      [ -s "$KAFKA_CREDENTIALS_DIR/$principal.password" ] \
        || die "$KAFKA_CREDENTIALS_DIR/$principal.password is missing, but the broker's SCRAM users were set when its storage was formatted; restore the file, or start over with down.sh --purge"
    done
  fi
}

# Starts the selected node (kafka_node) unless it runs; records it in kafka_started / kafka_reused.
start_kafka() {
  check_kafka_security_mode
  if kafka_running; then
    kafka_reused+=("$KAFKA_NODE")
    return 0
  fi
  if [ -f "$KAFKA_PID_FILE" ]; then
    log "removing stale $KAFKA_PID_FILE (pid $(kafka_pid) is not our broker)"
    rm -f "$KAFKA_PID_FILE"
  fi
  local port
  node_ports
  for port in "${kafka_ports[@]}"; do
    if port_open "$port"; then
      die "127.0.0.1:$port is already taken by another process; choose other ports (RETENTION_KAFKA_PORT / RETENTION_KAFKA_CONTROLLER_PORT / RETENTION_KAFKA_BROKER_PORT) or use that broker with KAFKA_BROKERS"
    fi
  done

  fetch_kafka_jars
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS_DIR"
  render_kafka_config
  kafka_java_opts
  # A fresh log per start: the readiness check greps it, and an old run's "started" line must
  # not count. The previous run's log is kept next to it.
  [ -f "$KAFKA_LOG" ] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.prev"
  : >"$KAFKA_LOG"
  format_kafka_storage

  # setsid: the broker gets its own session, so it outlives this script, its terminal and a CI
  # step's process group, and down.sh stops it by PID. The inner bash records its own PID and then
  # execs java, so the PID file names the JVM whether or not setsid had to fork.
  rm -f "$KAFKA_PID_FILE"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
  setsid nohup bash -c 'echo $$ >"$1" && shift && exec "$@"' kafka-launcher "$KAFKA_PID_FILE" \
    "$JAVA" "${KAFKA_JAVA_OPTS[@]}" kafka.Kafka "$KAFKA_CONFIG" \
    >>"$KAFKA_LOG" 2>&1 </dev/null 9>&- &
  local _
  for _ in $(seq 1 50); do
    [ -s "$KAFKA_PID_FILE" ] && break
    sleep 0.1
  done
  [ -s "$KAFKA_PID_FILE" ] || die "the Kafka launcher did not write $KAFKA_PID_FILE"
  kafka_started+=("$KAFKA_NODE")
}

# Ready = the broker port accepts TCP and the broker logged that it finished starting (the port
# opens a little before the broker can serve metadata).
wait_kafka() {
  local pid deadline
  pid=$(kafka_pid)
  deadline=$(($(date +%s) + RETENTION_KAFKA_START_TIMEOUT))
  while :; do
    if ! pid_alive "$pid"; then
      log "last 40 lines of $KAFKA_LOG:"
      tail -n 40 "$KAFKA_LOG" >&2
      rm -f "$KAFKA_PID_FILE"
      grep -q 'Address already in use' "$KAFKA_LOG" && ephemeral_port_hint
      die "$KAFKA_NODE_NAME exited while starting (log: $KAFKA_LOG)"
    fi
    if port_open "$KAFKA_NODE_PORT" && grep -q "Kafka Server started" "$KAFKA_LOG"; then
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "last 40 lines of $KAFKA_LOG:"
      tail -n 40 "$KAFKA_LOG" >&2
      die "$KAFKA_NODE_NAME did not become ready within ${RETENTION_KAFKA_START_TIMEOUT}s (log: $KAFKA_LOG)"
    fi
    sleep 0.5
  done
}

# The secured broker's topics and ACLs, created as `admin` by a small kafkajs script (Kafka's own
# ACL tool is not among the broker's runtime jars). Run on every up: cheap, and idempotent.
setup_kafka_acls() {
  command -v node >/dev/null 2>&1 || die "the secured broker's ACLs are created with Node.js, which is not on PATH"
  [ -d "$REPO_ROOT/node_modules/kafkajs" ] || die "the secured broker's ACLs are created with the project's kafkajs: run npm ci first"
  if ! (cd "$REPO_ROOT" && KAFKA_BROKERS="127.0.0.1:$RETENTION_KAFKA_PORT" \
    SETUP_ADMIN_PASSWORD_FILE="$KAFKA_CREDENTIALS_DIR/admin.password" SETUP_SERVICES="${KAFKA_SASL_SERVICES[*]}" \
    TSX_TSCONFIG_PATH="$REPO_ROOT/tsconfig.runtime.json" KAFKAJS_NO_PARTITIONER_WARNING=1 \
    node --conditions=@retention/source --import tsx "$STACK_DIR/kafka/secure-setup.mjs" </dev/null 9>&-); then
    die "could not create the topics and ACLs on the secured broker (broker log: $KAFKA_LOG)"
  fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# The server runs as another user than us when we are root: that user must be able to walk down
# every directory to the state dir, or initdb/postgres fail with a bare "Permission denied".
check_pg_path_access() {
  local user=$1 dir="" part blocked parts=()
  local dirs=(/)
  IFS=/ read -r -a parts <<<"${PG_DIR#/}"
  for part in "${parts[@]}"; do
    [ -n "$part" ] || continue
    dir="$dir/$part"
    [ -d "$dir" ] && dirs+=("$dir")
  done
  # shellcheck disable=SC2016 # expanded by the inner sh
  blocked=$(as_pg sh -c 'for d in "$@"; do [ -x "$d" ] || { echo "$d"; exit 0; }; done' sh "${dirs[@]}")
  if [ -n "$blocked" ]; then
    die "the PostgreSQL server runs as OS user '$user', which cannot enter $blocked (mode $(stat -c %A "$blocked"), owner $(stat -c %U "$blocked")). Leave RETENTION_LOCAL_DIR unset (the default state dir is then one it can reach, see deploy/local/README.md), put it somewhere it can reach, e.g. RETENTION_LOCAL_DIR=/var/tmp/retention-local, or allow traversal with: chmod o+x $blocked"
  fi
}

# Written on every start and included from postgresql.conf, so that changing these settings here
# reaches existing data dirs too.
write_pg_settings() {
  cat >"$PG_DATA/retention-local.conf" <<CONF
# Written by deploy/local/up.sh on every start; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = $RETENTION_PG_PORT
# Double quotes inside: the value is a comma-separated list where spaces would split a path.
unix_socket_directories = '"$PG_RUN"'
# Every domain service and the test suites open pools of their own.
max_connections = 200
# Sized for a 2-core machine shared with Kafka and Node services. Durability settings (fsync,
# synchronous_commit, full_page_writes) stay at their safe defaults: tests check what survives.
shared_buffers = 256MB
effective_cache_size = 1GB
work_mem = 8MB
maintenance_work_mem = 64MB
max_wal_size = 1GB
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
password_encryption = scram-sha-256
log_timezone = 'UTC'
timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 2000
CONF
  chown "$PG_USER:" "$PG_DATA/retention-local.conf"
  if ! grep -q "^include_if_exists = 'retention-local.conf'" "$PG_DATA/postgresql.conf"; then
    printf "\n# Settings of the retention local stack (deploy/local/up.sh)\ninclude_if_exists = 'retention-local.conf'\n" \
      >>"$PG_DATA/postgresql.conf"
  fi
}

start_postgres() {
  PG_USER=$(pg_os_user)
  if is_root && ! id postgres >/dev/null 2>&1; then
    die "running as root, but there is no 'postgres' OS user to run the PostgreSQL server as (PostgreSQL refuses to run as root). Create one (useradd --system --home-dir /var/lib/postgresql postgres) or run up.sh as a normal user"
  fi
  # Sockets live in sun_path (107 bytes on Linux); a deep clone path would fail at start.
  local socket="$PG_RUN/.s.PGSQL.$RETENTION_PG_PORT"
  if [ ${#socket} -gt 107 ]; then
    die "the socket path $socket is longer than the 107 bytes Unix sockets allow; set RETENTION_LOCAL_DIR to a shorter path"
  fi

  if pg_running; then
    pg_state="reused"
    return 0
  fi

  mkdir -p "$PG_DIR" "$PG_RUN"
  # The server's user must own its data dir and socket dir; as root we created them.
  if is_root; then
    chown "$PG_USER:" "$PG_DIR" "$PG_RUN"
    if [ -d "$PG_DATA" ] && [ "$(stat -c %U "$PG_DATA")" != "$PG_USER" ]; then
      chown -R "$PG_USER:" "$PG_DATA"
    fi
  elif [ -d "$PG_DATA" ] && [ "$(stat -c %U "$PG_DATA")" != "$PG_USER" ]; then
    die "$PG_DATA belongs to $(stat -c %U "$PG_DATA"), not to $PG_USER who would run the server; run as root, or use another RETENTION_LOCAL_DIR"
  fi
  # Only the server's user (and root) may use the socket: local socket connections are trusted.
  chmod 0700 "$PG_RUN"
  check_pg_path_access "$PG_USER"

  if [ -f "$PG_DATA/postmaster.pid" ]; then
    log "removing stale $PG_DATA/postmaster.pid (pid $(pg_pid) is not our server)"
    rm -f "$PG_DATA/postmaster.pid" "$PG_RUN/.s.PGSQL.$RETENTION_PG_PORT.lock"
  fi
  if port_open "$RETENTION_PG_PORT"; then
    die "127.0.0.1:$RETENTION_PG_PORT is already taken by another process; choose another port (RETENTION_PG_PORT) or use that server with DATABASE_URL"
  fi

  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initializing a PostgreSQL $(pg_major "$PG_BIN") data directory in $PG_DATA"
    rm -rf "$PG_DATA"
    # trust only on the Unix socket (a 0700 directory: only the server's user and root get in);
    # TCP on 127.0.0.1 needs a password (SCRAM), as any real deployment would.
    # C.UTF-8: byte-order collation (the same sort everywhere) with Unicode-aware upper/lower.
    local locale_opt=--no-locale
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale_opt=--locale=C.UTF-8; fi
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 "$locale_opt" \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 </dev/null 9>&-; then
      tail -n 20 "$PG_DIR/initdb.log" >&2
      rm -rf "$PG_DATA"
      die "initdb failed (log: $PG_DIR/initdb.log)"
    fi
  else
    local data_major bin_major
    read -r data_major <"$PG_DATA/PG_VERSION"
    bin_major=$(pg_major "$PG_BIN")
    if [ "$data_major" != "$bin_major" ]; then
      die "$PG_DATA was made by PostgreSQL $data_major but the binaries in $PG_BIN are $bin_major; set RETENTION_PG_BIN to PostgreSQL $data_major's, or delete the data with down.sh --purge"
    fi
  fi
  write_pg_settings

  touch "$PG_LOG"
  chown "$PG_USER:" "$PG_LOG"
  # -o repeats the address settings so a hand-edited config cannot expose the server beyond
  # loopback or move it off the port the scripts check. pg_ctl hands the -o string to /bin/sh,
  # hence the single quotes around the socket directory.
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-p $RETENTION_PG_PORT -k '$PG_RUN' -c listen_addresses=127.0.0.1" start \
    >/dev/null 2>"$PG_DIR/pg_ctl.err" </dev/null 9>&-; then
    cat "$PG_DIR/pg_ctl.err" >&2
    log "last 40 lines of $PG_LOG:"
    tail -n 40 "$PG_LOG" >&2
    grep -q 'Address already in use' "$PG_LOG" && ephemeral_port_hint
    die "PostgreSQL did not start (log: $PG_LOG)"
  fi
  pg_state="started"
}

wait_postgres() {
  local _
  for _ in $(seq 1 60); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$RETENTION_PG_PORT" && return 0
    sleep 0.5
  done
  tail -n 40 "$PG_LOG" >&2
  die "PostgreSQL does not accept connections on 127.0.0.1:$RETENTION_PG_PORT (log: $PG_LOG)"
}

# The application's role and database. Run on every up (cheap and idempotent), so a database
# dropped by hand, or a role whose password was changed, is back to what DATABASE_URL says.
ensure_pg_role() {
  as_pg "$PG_BIN/psql" -X -q -w -h "$PG_RUN" -p "$RETENTION_PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -f - >/dev/null 9>&- <<'SQL' || die "could not create the retention role/database (log: $PG_LOG)"
SELECT 'CREATE ROLE retention' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'retention') \gexec
ALTER ROLE retention WITH LOGIN CREATEDB PASSWORD 'retention';
SELECT 'CREATE DATABASE retention OWNER retention' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'retention') \gexec
-- The coordinator's runtime role: may log in, nothing more; the owner grants it INSERT and SELECT on the ledger.
SELECT 'CREATE ROLE retention_coordinator' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'retention_coordinator') \gexec
ALTER ROLE retention_coordinator WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'retention_coordinator';
SQL
  # The path the services take: TCP on 127.0.0.1 with the password.
  PGPASSWORD=retention PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q -w -h 127.0.0.1 -p "$RETENTION_PG_PORT" \
    -U retention -d retention -tAc 'SELECT 1' >/dev/null 9>&- \
    || die "PostgreSQL is up but retention@127.0.0.1:$RETENTION_PG_PORT/retention cannot log in (log: $PG_LOG)"
}

# ---------------------------------------------------------------------------------------------

quote_env_value() {
  # Plain values stay plain (as every dotenv reader and `source` expect); anything else is
  # single-quoted, which both understand.
  case "$1" in
    *[!A-Za-z0-9_.:/@%+,=?-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# Everything that can be checked before a server starts is checked here, so that a failure
# leaves nothing behind (before: Kafka started, then PostgreSQL failed on the state dir's access,
# and the orphaned broker made the next attempt fail on its port).
check_preconditions() {
  local port problems=() node
  if [ -n "$use_kafka" ]; then
    for node in $KAFKA_NODES; do
      kafka_node "$node"
      kafka_running && continue
      check_kafka_security_mode
      node_ports
      for port in "${kafka_ports[@]}"; do
        port_open "$port" && problems+=("127.0.0.1:$port (Kafka) is already taken by another process; choose other ports (RETENTION_KAFKA_PORT / RETENTION_KAFKA_CONTROLLER_PORT / RETENTION_KAFKA_BROKER_PORT) or use that broker with KAFKA_BROKERS")
      done
    done
    kafka_node 1
  fi
  if [ -n "$use_kafka" ] && ! kafka_all_running; then
    if [ "$RETENTION_KAFKA_SECURITY" = sasl ]; then
      command -v node >/dev/null 2>&1 || problems+=("the secured broker's ACLs are created with Node.js, which is not on PATH")
      [ -d "$REPO_ROOT/node_modules/kafkajs" ] || problems+=("the secured broker's ACLs are created with the project's kafkajs: run npm ci first")
    fi
  fi
  if [ -n "$use_pg" ] && ! pg_running; then
    if is_root && ! id postgres >/dev/null 2>&1; then
      problems+=("running as root, but there is no 'postgres' OS user to run the PostgreSQL server as (PostgreSQL refuses to run as root). Create one (useradd --system --home-dir /var/lib/postgresql postgres) or run up.sh as a normal user")
    else
      # Dies with the directory it cannot enter and what to do.
      check_pg_path_access "$(pg_os_user)"
    fi
    local socket="$PG_RUN/.s.PGSQL.$RETENTION_PG_PORT"
    [ ${#socket} -le 107 ] || problems+=("the socket path $socket is longer than the 107 bytes Unix sockets allow; set RETENTION_LOCAL_DIR to a shorter path")
    port_open "$RETENTION_PG_PORT" && problems+=("127.0.0.1:$RETENTION_PG_PORT (PostgreSQL) is already taken by another process; choose another port (RETENTION_PG_PORT) or use that server with DATABASE_URL")
  fi
  [ ${#problems[@]} -eq 0 ] && return 0
  for port in "${problems[@]}"; do log "cannot start: $port"; done
  die "nothing was started"
}

# On a failure after a server was started by this run, stop it again: a half-started stack would
# hold its ports and make the next attempt fail. Servers that were already running are left alone.
on_exit() {
  local status=$?
  [ -n "${FETCH_TMP:-}" ] && rm -rf "$FETCH_TMP"
  [ "$status" -eq 0 ] && return 0
  local node _
  for node in "${kafka_started[@]}"; do
    kafka_node "$node"
    kafka_running || continue
    log "stopping the broker this run started ($KAFKA_NODE_NAME, pid $(kafka_pid))"
    kill -TERM "$(kafka_pid)" 2>/dev/null || true
    for _ in $(seq 1 150); do kafka_running || break; sleep 0.2; done
    kafka_running && kill -KILL "$(kafka_pid)" 2>/dev/null
    rm -f "$KAFKA_PID_FILE"
  done
  if [ "${pg_state:-}" = started ] && pg_running; then
    log "stopping the PostgreSQL server this run started (pid $(pg_pid))"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 </dev/null 9>&- || kill -TERM "$(pg_pid)" 2>/dev/null || true
  fi
  return "$status"
}
FETCH_TMP=""
trap on_exit EXIT

kafka_started=()
kafka_reused=()
pg_state="external"
ensure_prerequisites
check_preconditions

if [ -n "$use_kafka" ]; then
  # Every node starts before any is waited for: a cluster's brokers finish starting only once a
  # majority of its controllers is up.
  for node in $KAFKA_NODES; do
    kafka_node "$node"
    start_kafka
  done
else
  log "kafka: using the external broker(s) KAFKA_BROKERS=$KAFKA_BROKERS (not starting one)"
fi
# PostgreSQL starts while the JVM boots: on 2 cores that overlap saves a few seconds.
if [ -n "$use_pg" ]; then
  start_postgres
  wait_postgres
  ensure_pg_role
elif [ -n "$no_pg" ]; then
  log "postgresql: not wanted (RETENTION_KAFKA_ONLY=true)"
else
  log "postgresql: using the external server DATABASE_URL (not starting one)"
fi
if [ -n "$use_kafka" ]; then
  for node in $KAFKA_NODES; do
    kafka_node "$node"
    wait_kafka
  done
  kafka_node 1
  [ "$RETENTION_KAFKA_SECURITY" = sasl ] && setup_kafka_acls
fi

brokers="${KAFKA_BROKERS:-$(kafka_bootstrap)}"
database_url="${DATABASE_URL:-postgres://retention:retention@127.0.0.1:$RETENTION_PG_PORT/retention}"
{
  printf 'KAFKA_BROKERS=%s\n' "$(quote_env_value "$brokers")"
  [ -n "$no_pg" ] || printf 'DATABASE_URL=%s\n' "$(quote_env_value "$database_url")"
  # The coordinator runs as this role (its migrations as DATABASE_URL's): it can only append to the ledger.
  [ -n "$use_pg" ] && printf 'DATABASE_COORDINATOR_URL=%s\n' "postgres://retention_coordinator:retention_coordinator@127.0.0.1:$RETENTION_PG_PORT/retention"
  # What a client of the secured broker needs besides its own name: the mechanism, and where the
  # password of each principal is (<dir>/<principal>.password); see README.md.
  if [ -n "$use_kafka" ] && [ "$RETENTION_KAFKA_SECURITY" = sasl ]; then
    printf 'KAFKA_SASL_MECHANISM=scram-sha-512\n'
    printf 'RETENTION_KAFKA_PRINCIPALS=%s\n' "$(quote_env_value "$(IFS=,; echo "${KAFKA_SASL_PRINCIPALS[*]}")")"
    printf 'RETENTION_KAFKA_CREDENTIALS_DIR=%s\n' "$(quote_env_value "$KAFKA_CREDENTIALS_DIR")"
  fi
} >"$STACK_ENV.tmp"
mv "$STACK_ENV.tmp" "$STACK_ENV"
# What down.sh/status.sh/stop need to find this stack again without repeated variables.
{
  printf 'RETENTION_KAFKA_SECURITY=%s\n' "$RETENTION_KAFKA_SECURITY"
  printf 'RETENTION_KAFKA_BROKERS=%s\n' "$RETENTION_KAFKA_BROKERS"
  printf 'RETENTION_KAFKA_PORT=%s\n' "$RETENTION_KAFKA_PORT"
  printf 'RETENTION_KAFKA_CONTROLLER_PORT=%s\n' "$RETENTION_KAFKA_CONTROLLER_PORT"
  if [ -n "$RETENTION_KAFKA_BROKER_PORT" ]; then printf 'RETENTION_KAFKA_BROKER_PORT=%s\n' "$RETENTION_KAFKA_BROKER_PORT"; fi
  printf 'RETENTION_PG_PORT=%s\n' "$RETENTION_PG_PORT"
  if [ -n "$no_pg" ]; then printf 'RETENTION_KAFKA_ONLY=true\n'; fi
} >"$STATE_DIR/stack.conf.tmp"
mv "$STATE_DIR/stack.conf.tmp" "$STATE_DIR/stack.conf"
if [ "$STATE_DIR" != "$DEFAULT_ROOT" ] && [ "$STATE_DIR" != "$DEFAULT_ROOT/secure" ] && [ "$STATE_DIR" != "$DEFAULT_ROOT/cluster" ]; then
  mkdir -p "$DEFAULT_ROOT"
  grep -qxF -- "$STATE_DIR" "$STACKS_LIST" 2>/dev/null || echo "$STATE_DIR" >>"$STACKS_LIST"
fi

elapsed_ms=$(($(now_ms) - started_ms))
if [ -n "$use_kafka" ]; then
  for node in $KAFKA_NODES; do
    kafka_node "$node"
    kafka_state=reused
    [[ " ${kafka_started[*]} " == *" $node "* ]] && kafka_state=started
    if [ "$RETENTION_KAFKA_SECURITY" = sasl ]; then
      log "kafka: $kafka_state (Apache Kafka $RETENTION_KAFKA_VERSION, pid $(kafka_pid), 127.0.0.1:$KAFKA_NODE_PORT, SASL/SCRAM-SHA-512 with ACLs)"
    else
      log "$KAFKA_NODE_NAME: $kafka_state (Apache Kafka $RETENTION_KAFKA_VERSION, pid $(kafka_pid), 127.0.0.1:$KAFKA_NODE_PORT)"
    fi
  done
  kafka_node 1
fi
if [ -n "$use_pg" ]; then
  log "postgresql: $pg_state (PostgreSQL $(pg_major "$PG_BIN"), pid $(pg_pid), 127.0.0.1:$RETENTION_PG_PORT)"
fi
log "up in $((elapsed_ms / 1000)).$(((elapsed_ms % 1000) / 100)) s; settings written to $STACK_ENV:"
cat "$STACK_ENV"
