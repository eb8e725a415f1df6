# Shared by scripts/*.sh: repository root, dependency install, logging.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Workspace packages resolve to their TypeScript sources (export condition "@retention/source"),
# never to a dist/ build that may be stale; compiled processes run without it (`npm start -w <service>`).
export NODE_OPTIONS="--conditions=@retention/source${NODE_OPTIONS:+ $NODE_OPTIONS}"
# The state dir of the local stack, as deploy/local resolves it: <repo>/.local, or
# /var/tmp/retention-<hash of the repo path> where PostgreSQL's user cannot reach the clone (root
# in a 0700 home); the secured stack (RETENTION_KAFKA_SECURITY=sasl) in <that>/secure.
# shellcheck source=../deploy/local/state-dir.sh
source "$ROOT/deploy/local/state-dir.sh"
DEFAULT_LOCAL_DIR="$(retention_default_root "$(cd "$ROOT" && pwd -P)")"
if [ "${RETENTION_KAFKA_SECURITY:-none}" = sasl ]; then
  LOCAL_DIR="${RETENTION_LOCAL_DIR:-$DEFAULT_LOCAL_DIR/secure}"
else
  LOCAL_DIR="${RETENTION_LOCAL_DIR:-$DEFAULT_LOCAL_DIR}"
fi
LOCAL_DIR="$(realpath -m -- "$LOCAL_DIR")"
RUN_DIR="$LOCAL_DIR/run"

say() { printf '\033[1m[retention]\033[0m %s\n' "$*"; }

# Installs npm dependencies on a fresh clone, and again when package-lock.json changed.
ensure_deps() {
  command -v node >/dev/null || { echo "Node.js 20.19+ is required (node not found)" >&2; exit 1; }
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT/package-lock.json" -nt "$stamp" ]; then
    say "installing npm dependencies (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Command-line tools some tests run for real: kcat (a Kafka client nobody here wrote), openssl
# (signs a command outside Node), promtool (checks and unit-tests the alert rules), prometheus (the
# server test/e2e/prometheus.e2e.ts starts on loopback; same Debian package as promtool). Installed
# from Debian's packages when missing and we are root with apt; otherwise the tests that need them
# fail and name the tool.
ensure_test_tools() {
  local missing=() tool pkg
  for pair in kcat:kcat openssl:openssl promtool:prometheus prometheus:prometheus python3:python3 chromium:chromium; do
    tool=${pair%%:*}
    pkg=${pair#*:}
    command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    ensure_schemathesis
    return 0
  fi
  # shellcheck disable=SC2207 # package names have no spaces
  missing=($(printf '%s\n' "${missing[@]}" | sort -u))
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing test tools from Debian's packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    # The prometheus package's own server is not started here (tests start theirs on loopback).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2
  else
    say "warning: missing ${missing[*]} (Debian packages); the tests that run them will fail"
  fi
  ensure_schemathesis
}

# schemathesis (PyPI), pinned, installed by ensure_test_tools: test/e2e/openapi-fuzz.e2e.ts fuzzes the coordinator's API from its
# OpenAPI document with it. Installed into a venv of its own, shared by every clone of this machine
# (the path below is where the test looks; RETENTION_SCHEMATHESIS overrides it).
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/retention/schemathesis-$SCHEMATHESIS_VERSION"
ensure_schemathesis() {
  [ -x "$SCHEMATHESIS_DIR/bin/st" ] && return 0
  command -v python3 >/dev/null 2>&1 || { say "warning: python3 is missing; test/e2e/openapi-fuzz.e2e.ts will fail"; return 0; }
  say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into $SCHEMATHESIS_DIR"
  python3 -m venv "$SCHEMATHESIS_DIR" >&2
  # A failed install leaves no half venv behind (bin/st is what says it is there).
  "$SCHEMATHESIS_DIR/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2 || {
    rm -rf "$SCHEMATHESIS_DIR"
    say "warning: schemathesis $SCHEMATHESIS_VERSION could not be installed from PyPI; test/e2e/openapi-fuzz.e2e.ts will fail"
  }
}
