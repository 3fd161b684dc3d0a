#!/usr/bin/env bash
# make bench: start the server on a scratch PostgreSQL database, drive it with
# sharedcare-bench (raw-Postgres floor alongside), then clean up.
#
# BENCH_ARGS passes flags to sharedcare-bench, e.g.
#   BENCH_ARGS="-scenarios read -concurrency 8,32 -duration 20s" make bench
# BENCH_STORE=embedded runs the server on the embedded store instead (the
# floor stays raw Postgres, the production baseline).
# BENCH_NOACCESS=1 runs the benchmark build without access checks and audit
# (go build -tags benchnoaccess), to measure what the access model costs.
# BENCH_POPULATION=N first loads N patients (about 20 resources each) through
# transactions, then runs the scale-* searches against them, e.g.
#   BENCH_POPULATION=100000 BENCH_ARGS="-scenarios scale-clinician,scale-identifier,scale-revinclude,scale-count,scale-name -concurrency 8" make bench
# BENCH_DEBUG_ADDR=127.0.0.1:6060 serves the server's pprof there, to
# profile it under load (go tool pprof -top http://$BENCH_DEBUG_ADDR/debug/pprof/profile?seconds=20).
# BENCH_STATE_DIR=dir keeps the server's database, data directory (dev key)
# and the population's record there across runs: a population load resumes
# where it stopped, later runs search the same patients, and the database
# stays for EXPLAIN (its URL is in dir/database-url). Drop it by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

PGURL="${SHAREDCARE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
ADDR="${BENCH_ADDR:-127.0.0.1:18181}"
ADMIN="${PGURL%%\?*}"
STATE="${BENCH_STATE_DIR:-}"
if [ -n "$STATE" ]; then
  mkdir -p "$STATE/data"
  STATE=$(cd "$STATE" && pwd)
  DATA="$STATE/data"
  if [ ! -f "$STATE/database" ]; then
    echo "sharedcare_bench_state_$$" >"$STATE/database"
    psql "$PGURL" -qc "CREATE DATABASE $(cat "$STATE/database")"
  fi
  DB=$(cat "$STATE/database")
else
  DB="sharedcare_bench_srv_$$"
  DATA=$(mktemp -d)
  psql "$PGURL" -qc "CREATE DATABASE $DB"
fi
DBURL="${ADMIN%/*}/$DB?sslmode=disable"
[ -n "$STATE" ] && echo "$DBURL" >"$STATE/database-url"

cleanup() {
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true
  if [ -n "$STATE" ]; then
    echo "kept the server database $DBURL and $STATE"
  else
    psql "$PGURL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
    rm -rf "$DATA"
  fi
}
trap cleanup EXIT

if curl -sf "http://$ADDR/fhir/metadata" >/dev/null 2>&1; then
  echo "something already answers on $ADDR (an earlier bench's server?); set BENCH_ADDR" >&2
  exit 1
fi

SERVER_BIN=bin/sharedcare
if [ "${BENCH_NOACCESS:-}" = 1 ]; then
  go build -tags benchnoaccess -o bin/sharedcare-noaccess ./cmd/sharedcare
  SERVER_BIN=bin/sharedcare-noaccess
  echo "server build: WITHOUT access checks and audit (benchnoaccess)"
fi
SERVER_DB="$DBURL"
[ "${BENCH_STORE:-postgres}" = embedded ] && SERVER_DB=""
echo "server store: ${BENCH_STORE:-postgres}"
SHAREDCARE_ADDR="$ADDR" SHAREDCARE_BASE_URL="http://$ADDR/fhir" SHAREDCARE_DATABASE_URL="$SERVER_DB" \
SHAREDCARE_DATA_DIR="$DATA" SHAREDCARE_LOG_LEVEL=warn SHAREDCARE_DEBUG_ADDR="${BENCH_DEBUG_ADDR:-}" SHAREDCARE_DEV_AUTH="${SHAREDCARE_DEV_AUTH:-1}" \
  "$SERVER_BIN" serve --i-know-this-is-insecure >/dev/null 2>"$DATA/server.log" &
SRV=$!
start=$(date +%s.%N)
until curl -sf "http://$ADDR/fhir/metadata" >/dev/null; do
  kill -0 "$SRV" 2>/dev/null || { cat "$DATA/server.log"; exit 1; }
  sleep 0.02
done
echo "server answered /fhir/metadata $(echo "$(date +%s.%N) - $start" | bc) s after start (migrations applied at start)"
sleep 1
echo "idle RSS: $(grep VmRSS /proc/$SRV/status)"

TOKEN="${SHAREDCARE_TOKEN:-}"
if [ -z "$TOKEN" ] && bin/sharedcare help 2>/dev/null | grep -q token; then
  TOKEN=$(SHAREDCARE_DATA_DIR="$DATA" SHAREDCARE_BASE_URL="http://$ADDR/fhir" bin/sharedcare token --role system --source gp --org BENCH1)
fi

POPULATION=()
if [ -n "${BENCH_POPULATION:-}" ]; then
  POPULATION=(-population "$BENCH_POPULATION" -dev-data "$DATA")
  [ -n "$STATE" ] && POPULATION+=(-population-state "$STATE/population.jsonl")
fi
[ -n "${SERVER_DB:-}" ] && POPULATION+=(-analyze-db "$SERVER_DB")
bin/sharedcare-bench -base "http://$ADDR/fhir" -db "$PGURL" -pid "$SRV" -token "$TOKEN" "${POPULATION[@]}" ${BENCH_ARGS:--scenarios create,read,search -concurrency 8,32 -duration 10s}
