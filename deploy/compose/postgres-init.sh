#!/bin/sh
# Runs once, on an empty data directory: the roles and the database Temporal's SQL tool and psflow use.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE temporal LOGIN CREATEDB PASSWORD '${TEMPORAL_DB_PASSWORD}';
CREATE ROLE psflow LOGIN PASSWORD '${PSFLOW_DB_PASSWORD}';
CREATE DATABASE psflow OWNER psflow;
SQL
