#!/usr/bin/env bash
# Runs the whole test suite (scripts/test.sh) on another Node.js line, e.g. `npm run test:node -- 22`.
# The Node binary comes from the npm registry's `node` package (no system install) and is kept in
# .local/node-<line>; dependencies stay as installed (no native modules). Not part of .ci/run.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
line="${1:-}"
if [[ ! "$line" =~ ^[0-9]+$ ]]; then
  echo "usage: npm run test:node -- <major version, e.g. 22 or 24> [vitest arguments]" >&2
  exit 2
fi
shift
dir="$ROOT/.local/node-$line"
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  say "installing Node.js $line from the npm registry into .local/node-$line"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --no-save "node@$line" >/dev/null
fi
export PATH="$dir/node_modules/.bin:$PATH"
say "running the suite on Node.js $(node -v)"
exec bash "$ROOT/scripts/test.sh" "$@"
