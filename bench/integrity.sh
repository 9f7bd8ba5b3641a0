#!/usr/bin/env bash
# bench/integrity.sh — the whole `ip2adb integrity --no-files` command against
# one full scan (count(*) of every IP2A table, one psql session) of the same
# PostgreSQL database, back to back, so that both see the same load.
#
# Usage: bench/integrity.sh            (from the repository root)
# Environment:
#   IP2ADB_BENCH_PG       server URL without database (default postgres://postgres@127.0.0.1:5432)
#   IP2ADB_BENCH_SCALE    multiplies the stress volumes of the seeded database (default 1;
#                         10 = --members 100000 --organizations 7500 …)
#   IP2ADB_BENCH_RUNS     repetitions (default 3); the median of each is compared
#   IP2ADB_BENCH_BASELINE an ip2adb binary timed the same way in each run (e.g. built
#                         from an older commit)
#
# Prints each run's times, then the medians and their ratio (integrity / scan).
# Needs: go, psql, jq, bc, /usr/bin/time.
set -euo pipefail

PG=${IP2ADB_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
SCALE=${IP2ADB_BENCH_SCALE:-1}
RUNS=${IP2ADB_BENCH_RUNS:-3}
BASELINE=${IP2ADB_BENCH_BASELINE:-}
for tool in go psql jq bc /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench/integrity.sh: $tool is required" >&2; exit 2; }
done

work=$(mktemp -d)
db=ip2adb_bench_integrity_$$
admin="$PG/postgres?sslmode=disable"
url="$PG/$db?sslmode=disable"
cleanup() {
	psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/ip2adb" ./cmd/ip2adb
psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
vol() { echo $(($1 * SCALE)); }
"$work/ip2adb" --db "$url" seed --stress --members "$(vol 10000)" --organizations "$(vol 750)" \
	--locations "$(vol 250)" --instructors "$(vol 500)" --students "$(vol 1000)" --format json >"$work/seed.json"
psql -q "$url" -c "VACUUM ANALYZE" >/dev/null
echo "stress database x$SCALE: $(jq .rows "$work/seed.json") rows"

scan_sql=$(printf 'SELECT count(*) FROM %s;\n' locations instructors organizations organization_contacts members \
	member_employments students grievances file_attachments)
# timed OUT CMD… runs CMD with its output in OUT and prints its wall time in
# seconds at millisecond resolution (/usr/bin/time's is 10 ms).
timed() {
	local out=$1 t0 t1
	shift
	t0=$(date +%s%N)
	"$@" >"$out" || true
	t1=$(date +%s%N)
	echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

: >"$work/ours" >"$work/base" >"$work/scan"
for run in $(seq 1 "$RUNS"); do
	ours=$(timed "$work/rep.json" /usr/bin/time -v -o "$work/t.txt" "$work/ip2adb" --db "$url" integrity --no-files --format json)
	failed=$(jq .summary.failed_checks "$work/rep.json")
	echo "$ours" >>"$work/ours"
	line="run $run: integrity --no-files $ours s (peak RSS $(rss "$work/t.txt") MB, failed checks $failed)"
	if [[ -n $BASELINE ]]; then
		base=$(timed /dev/null "$BASELINE" --db "$url" integrity --no-files --format json)
		echo "$base" >>"$work/base"
		line="$line; baseline $base s"
	fi
	scan=$(timed /dev/null psql -q -At "$url" <<<"$scan_sql")
	echo "$scan" >>"$work/scan"
	echo "$line; full scan $scan s"
done
m_ours=$(median <"$work/ours")
m_scan=$(median <"$work/scan")
printf "median: integrity --no-files %s s, full scan %s s, ratio %.1f×\n" "$m_ours" "$m_scan" "$(echo "$m_ours / $m_scan" | bc -l)"
if [[ -n $BASELINE ]]; then
	m_base=$(median <"$work/base")
	printf "median: baseline %s s, ratio %.1f×\n" "$m_base" "$(echo "$m_base / $m_scan" | bc -l)"
fi
jq -r '.checks[] | "    \(.name): \(.duration_ms) ms"' "$work/rep.json"
