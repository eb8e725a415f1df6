#!/usr/bin/env bash
# logs.sh kafka|postgres [-f]: the last lines of a component's log (-f: follow).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case "${1:-}" in
  kafka) file=$KAFKA_LOG ;;
  postgres|postgresql) file=$PG_LOG ;;
  *) die "usage: logs.sh kafka|postgres [-f]" ;;
esac
[ -f "$file" ] || die "no log yet at $file"
if [ "${2:-}" = "-f" ]; then exec tail -n 100 -f "$file"; else tail -n 100 "$file"; fi
