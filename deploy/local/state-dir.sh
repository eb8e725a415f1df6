# shellcheck shell=bash
# Where a clone's local stacks keep their state, without any variable. Sourced by lib.sh and
# scripts/lib.sh; `bash state-dir.sh` prints the default state root (test and bench code call it).
#
# The default root is <repo>/.local when that already holds a stack (kafka/, postgres/ or
# stack.env: clones that ran before keep their data), or when PostgreSQL's OS user can walk down to
# <repo>. As root the server runs as `postgres`, which cannot enter a clone in a 0700 home (root's
# /root); then the root is /var/tmp/retention-<first 12 hex digits of sha256(repo path)>: reachable
# by that user, one per clone, and the same on every call, so stop/status find it again.
# The secured stack lives in <root>/secure. RETENTION_LOCAL_DIR overrides all of this.

# retention_repo_reachable DIR: true when a process of another (non-owner, non-group) user can
# enter DIR, i.e. every directory from / down to DIR has the "others" execute bit. Decided from the
# mode bits alone, so the answer is the same before and after the postgres user exists.
retention_repo_reachable() {
  local dir=$1 mode
  while :; do
    mode=$(stat -c %a -- "$dir" 2>/dev/null) || return 1
    # The last octal digit is "others"; odd means x is set.
    [ $((${mode: -1} % 2)) -eq 1 ] || return 1
    [ "$dir" = / ] && return 0
    dir=$(dirname -- "$dir")
  done
}

# retention_default_root REPO_ROOT: prints the default state root of that clone.
retention_default_root() {
  local repo=$1 local_dir="$1/.local" hash
  if [ -e "$local_dir/stack.env" ] || [ -d "$local_dir/kafka" ] || [ -d "$local_dir/postgres" ] \
    || [ "$(id -u)" -ne 0 ] || retention_repo_reachable "$repo"; then
    printf '%s\n' "$local_dir"
    return 0
  fi
  hash=$(printf '%s' "$repo" | sha256sum | cut -c1-12)
  printf '%s\n' "/var/tmp/retention-$hash"
}

# Run directly: print the default root of the clone this file belongs to.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  retention_default_root "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
fi
