# Shared by scripts/*.sh: repository root, dependency install, logging.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The secured stack (RETENTION_KAFKA_SECURITY=sasl) has a state dir of its own, as in deploy/local.
if [ "${RETENTION_KAFKA_SECURITY:-none}" = sasl ]; then
  LOCAL_DIR="${RETENTION_LOCAL_DIR:-$ROOT/.local/secure}"
else
  LOCAL_DIR="${RETENTION_LOCAL_DIR:-$ROOT/.local}"
fi
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
