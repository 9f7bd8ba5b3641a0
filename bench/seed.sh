#!/usr/bin/env bash
# bench/seed.sh — how fast does `ip2adb seed --stress` load PostgreSQL,
# compared with `pgbench -i` at about the same row count on the same server
# in the same run?
#
# Usage: bench/seed.sh            (from the repository root)
# Environment:
#   IP2ADB_BENCH_PG    server URL without database (default postgres://postgres@127.0.0.1:5432)
#   IP2ADB_BENCH_VOLUME multiplies the stress volumes (default 1; 10 = --members 100000
#                      --organizations 7500 …, 5.7 M rows)
#   IP2ADB_BENCH_SCALE pgbench scale (default 6 × IP2ADB_BENCH_VOLUME: 600,066 rows per 6,
#                      about the stress seed's 575,000)
#   IP2ADB_BENCH_RUNS  repetitions of each (default 1); the best run of each is compared
#   IP2ADB_BENCH_BASELINE an ip2adb binary (e.g. built from an older commit) whose seed runs
#                      too in each run, right after this tree's, with its own ratio
#   IP2ADB_BENCH_FILES=1 also seeds the stress profile with --files-dir (120,387 files at
#                      the default --file-scale 0.001) and reports that run
#
# Prints the seed's rows, seconds, rows/s and peak RSS (from /usr/bin/time -v),
# pgbench -i's rows, seconds and rows/s, the ratio of the two throughputs in
# each run (the seed and pgbench back to back, so under the same load) and
# the ratio of the best of each.
# Needs: go, psql, pgbench, jq, /usr/bin/time.
set -euo pipefail

PG=${IP2ADB_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
VOLUME=${IP2ADB_BENCH_VOLUME:-1}
SCALE=${IP2ADB_BENCH_SCALE:-$((6 * VOLUME))}
vols=(--members $((10000 * VOLUME)) --organizations $((750 * VOLUME)) --locations $((250 * VOLUME))
	--instructors $((500 * VOLUME)) --students $((1000 * VOLUME)))
RUNS=${IP2ADB_BENCH_RUNS:-1}
for tool in go psql pgbench jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench/seed.sh: $tool is required" >&2; exit 2; }
done

work=$(mktemp -d)
seed_db=ip2adb_bench_seed_$$
pgb_db=ip2adb_bench_pgbench_$$
cleanup() {
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $seed_db WITH (FORCE)" >/dev/null 2>&1 || true
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $pgb_db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/ip2adb" ./cmd/ip2adb

now() { date +%s.%N; }

best_seed_rate=0 best_seed_line="" best_pgb_rate=0 best_pgb_line=""
for run in $(seq 1 "$RUNS"); do
	# ip2adb seed --stress into a fresh database.
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $seed_db WITH (FORCE)" -c "CREATE DATABASE $seed_db" >/dev/null
	/usr/bin/time -v -o "$work/time.txt" "$work/ip2adb" --db "$PG/$seed_db?sslmode=disable" \
		seed --stress "${vols[@]}" --format json >"$work/seed.json"
	rows=$(jq .rows "$work/seed.json")
	secs=$(jq .seconds "$work/seed.json")
	rate=$(jq '.rows_per_second | floor' "$work/seed.json")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/time.txt")
	line=$(printf "ip2adb seed --stress: %d rows in %.2f s = %d rows/s (process wall %s, peak RSS %d MB)" "$rows" "$secs" "$rate" "$wall" "$rss")
	echo "run $run: $line"
	jq -r '.tables[] | "    \(.table): \(.rows) rows, \(.seconds*100|floor/100) s"' "$work/seed.json"
	if ((rate > best_seed_rate)); then best_seed_rate=$rate best_seed_line=$line; fi

	if [[ -n ${IP2ADB_BENCH_BASELINE:-} ]]; then
		psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $seed_db WITH (FORCE)" -c "CREATE DATABASE $seed_db" >/dev/null
		"$IP2ADB_BENCH_BASELINE" --db "$PG/$seed_db?sslmode=disable" seed --stress "${vols[@]}" --format json >"$work/base.json"
		base_rate=$(jq '.rows_per_second | floor' "$work/base.json")
		echo "run $run: baseline $(basename "$IP2ADB_BENCH_BASELINE") seed: $(jq .rows "$work/base.json") rows in $(jq '.seconds*100|floor/100' "$work/base.json") s = $base_rate rows/s"
	fi

	# pgbench -i at about the same number of rows, same server.
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $pgb_db WITH (FORCE)" -c "CREATE DATABASE $pgb_db" >/dev/null
	pg_rows=$((SCALE * 100000 + SCALE * 10 + SCALE))
	t0=$(now)
	pgbench -i -q -s "$SCALE" "$PG/$pgb_db?sslmode=disable" >"$work/pgbench.txt" 2>&1
	t1=$(now)
	pg_secs=$(echo "$t1 - $t0" | bc -l)
	pg_rate=$(echo "$pg_rows / $pg_secs" | bc)
	line=$(printf "pgbench -i -s %d: %d rows in %.2f s = %d rows/s" "$SCALE" "$pg_rows" "$pg_secs" "$pg_rate")
	echo "run $run: $line"
	printf "run %d: seed / pgbench -i, this run = %.2f\n" "$run" "$(echo "$rate / $pg_rate" | bc -l)"
	if [[ -n ${IP2ADB_BENCH_BASELINE:-} ]]; then
		printf "run %d: baseline seed / pgbench -i, this run = %.2f\n" "$run" "$(echo "$base_rate / $pg_rate" | bc -l)"
	fi
	if ((pg_rate > best_pgb_rate)); then best_pgb_rate=$pg_rate best_pgb_line=$line; fi
done

echo
echo "best $best_seed_line"
echo "best $best_pgb_line"
printf "seed throughput / pgbench -i throughput = %.0f %%\n" "$(echo "100 * $best_seed_rate / $best_pgb_rate" | bc -l)"

if [[ ${IP2ADB_BENCH_FILES:-} == 1 ]]; then
	mkdir -p "$work/files"
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $seed_db WITH (FORCE)" -c "CREATE DATABASE $seed_db" >/dev/null
	/usr/bin/time -v -o "$work/time.txt" "$work/ip2adb" --db "$PG/$seed_db?sslmode=disable" \
		seed --stress --files-dir "$work/files" --format json >"$work/seed.json"
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/time.txt")
	jq -r --arg rss "$rss" '"ip2adb seed --stress --files-dir: \(.rows) rows and \(.files) files (\(.file_bytes/1e6|floor) MB) in \(.seconds*100|floor/100) s; file_attachments phase \(.tables[-1].seconds*100|floor/100) s; peak RSS \($rss) MB"' "$work/seed.json"
fi
