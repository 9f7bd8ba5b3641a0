#!/usr/bin/env bash
# Repair throughput of ip2adb's auto-heal, including the journal: plants
# 100,000 faults (INSERT … SELECT generate_series on PostgreSQL, a recursive
# CTE on SQLite) next to 200,000 clean employments and 10,000 members, then
# times the repair transaction of every repairable IP2A rule (one journal
# INSERT … SELECT plus one UPDATE/DELETE per rule) and reports rows/s and the
# Go heap allocated per run (flat in the number of faults).
#
#   bench/heal.sh                      # 100,000 faults, 3 runs each on PostgreSQL and SQLite
#   IP2ADB_BENCH_FAULTS=400000 bench/heal.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (or IP2ADB_TEST_PG).
set -euo pipefail
cd "$(dirname "$0")/.."
IP2ADB_BENCH_STRESS=1 go test -count=1 -run '^$' -bench 'Repair' -benchtime "${BENCHTIME:-3x}" ./heal
