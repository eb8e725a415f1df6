#!/usr/bin/env bash
# First start of the compose PostgreSQL only (docker-entrypoint-initdb.d): the coordinator's two
# roles (owner runs the migrations, `coordinator` may only append to the ledger: the migrations
# grant it that), one role for the domain services, and a database per process.
set -euo pipefail
pw() { sed "s/'/''/g" "/run/secrets/$1"; }
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE coordinator_owner LOGIN PASSWORD '$(pw coordinator-owner-db-password)';
CREATE ROLE coordinator LOGIN PASSWORD '$(pw coordinator-db-password)';
CREATE ROLE services LOGIN PASSWORD '$(pw services-db-password)';
CREATE DATABASE coordinator OWNER coordinator_owner;
REVOKE ALL ON DATABASE coordinator FROM PUBLIC;
GRANT CONNECT ON DATABASE coordinator TO coordinator;
CREATE DATABASE orders OWNER services;
CREATE DATABASE sessions OWNER services;
CREATE DATABASE analytics OWNER services;
CREATE DATABASE support OWNER services;
CREATE DATABASE ml_data OWNER services;
SQL
