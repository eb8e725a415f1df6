#!/usr/bin/env bash
# Makes every secret compose.yaml mounts, as files under deploy/compose/secrets/ (or
# $RETENTION_SECRETS_DIR), ignored by git and by the image build. Existing files are kept, so
# running it again changes nothing; delete the directory to start over. Needs openssl only.
# Modes: the directory is 0700 (no other user of this host reads it); the files are 0644 because
# compose (without swarm) bind-mounts them as they are, and the processes run as uid 1000, not as
# the owner of these files.
set -euo pipefail
cd "$(dirname "$0")"
dir=${RETENTION_SECRETS_DIR:-secrets}
mkdir -p "$dir"
chmod 0700 "$dir"
umask 022

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
put() { [ -s "$dir/$1" ] || printf '%s' "$2" >"$dir/$1"; }
rand() { openssl rand "$1" | b64url; }
# An Ed25519 key pair: the private key as PKCS#8 PEM (RETENTION_SIGNING_KEY_FILE), the public key
# as base64url of its 32 raw bytes (what the *_PUBLIC_KEYS lists take).
keypair() {
  [ -s "$dir/$1.key" ] || openssl genpkey -algorithm ed25519 -out "$dir/$1.key"
  openssl pkey -in "$dir/$1.key" -pubout -outform DER | tail -c 32 | b64url
}

services=(orders sessions analytics support ml-data)

put postgres-password "$(rand 24)"
put grafana-admin-password "$(rand 24)"
put coordinator-db-password "$(rand 24)"
put coordinator-owner-db-password "$(rand 24)"
put services-db-password "$(rand 24)"
pg() { printf 'postgres://%s:%s@postgres:5432/%s' "$1" "$(cat "$dir/$2")" "$3"; }
put coordinator-database-url "$(pg coordinator coordinator-db-password coordinator)"
put coordinator-migrations-url "$(pg coordinator_owner coordinator-owner-db-password coordinator)"
for s in "${services[@]}"; do put "$s-database-url" "$(pg services services-db-password "${s//-/_}")"; done

put command-kek "$(rand 32)"
put subject-hmac-key "$(rand 32)"
put hash-key "$(rand 32)"
put api-tokens "admin:$(rand 24),requester:$(rand 24),auditor:$(rand 24)"

coordinator_pub=$(keypair coordinator-signing)
put coordinator-public-keys "coordinator-1=$coordinator_pub"
trusted=()
for s in "${services[@]}"; do trusted+=("$s:$s-1=$(keypair "$s-signing")"); done
put service-public-keys "$(IFS=,; echo "${trusted[*]}")"
chmod 0644 "$dir"/*
echo "secrets in $dir (API tokens: $dir/api-tokens)"
