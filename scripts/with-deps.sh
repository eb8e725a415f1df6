#!/usr/bin/env bash
# `bash scripts/with-deps.sh && <tool>` in package.json: installs the npm dependencies first when
# they are missing or older than package-lock.json (npm ci), so every npm script works on a fresh
# clone. Progress goes to stderr: the tool's stdout stays its own.
source "$(dirname "$0")/lib.sh"
ensure_deps >&2
# --test-tools: also kcat, openssl, promtool, python3 (Debian packages some tests run) and schemathesis (PyPI).
if [ "${1:-}" = --test-tools ]; then ensure_test_tools >&2; fi
