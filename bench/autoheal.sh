#!/usr/bin/env bash
# bench/autoheal.sh — repair throughput of the whole `ip2adb auto-heal
# --no-files` command (check, repair with the journal, re-check) on the
# stress database with faulty rows planted in member_employments.
#
# Usage: bench/autoheal.sh            (from the repository root)
# Environment:
#   IP2ADB_BENCH_PG       server URL without database (default postgres://postgres@127.0.0.1:5432)
#   IP2ADB_BENCH_FAULTS   faulty employments planted (default 100000): a quarter each of
#                         employments of missing members and of missing organizations
#                         (employment.orphan_member / orphan_organization: delete), ending
#                         before they start (employment.end_before_start: end_date cleared)
#                         and current with an end date (employment.current_with_end_date:
#                         is_current set false)
#   IP2ADB_BENCH_SCALE    multiplies the stress volumes (default 1)
#   IP2ADB_BENCH_RUNS     repetitions (default 1)
#   IP2ADB_BENCH_BASELINE an ip2adb binary to run the same way right after each run of this
#                         tree's, on an identically planted database (e.g. one built from an
#                         older commit), so both figures come from the same moment of load
#   IP2ADB_BENCH_FLOOR    1: after each run, the floor of any auto-heal on this machine, on
#                         fresh copies: the wall time of `integrity --no-files` alone (the
#                         checks any cycle runs first), of the four repairs' bare data
#                         changes in one transaction (psql, the cheapest predicates) and of
#                         the least journal (the before-images, made beforehand, written to
#                         a table with no index). Their sum is a lower bound on any cycle
#                         that journals its repairs: no re-check, no sample, no step record
#
# For each run: rows repaired (from the JSON report), the command's wall time
# and peak RSS (/usr/bin/time -v), rows/s = rows repaired / wall time, and that
# an undo of the run restores every journaled row.
# Needs: go, psql, jq, /usr/bin/time.
set -euo pipefail

PG=${IP2ADB_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
FAULTS=${IP2ADB_BENCH_FAULTS:-100000}
SCALE=${IP2ADB_BENCH_SCALE:-1}
RUNS=${IP2ADB_BENCH_RUNS:-1}
BASELINE=${IP2ADB_BENCH_BASELINE:-}
for tool in go psql jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench/autoheal.sh: $tool is required" >&2; exit 2; }
done

work=$(mktemp -d)
db=ip2adb_bench_heal_$$
tmpl=ip2adb_bench_heal_tmpl_$$
admin="$PG/postgres?sslmode=disable"
cleanup() {
	psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $tmpl WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
[[ -n ${IP2ADB_BENCH_KEEP:-} ]] && trap - EXIT

go build -o "$work/ip2adb" ./cmd/ip2adb

# The stress database with the planted faults, once, as a template.
psql -q "$admin" -c "DROP DATABASE IF EXISTS $tmpl" -c "CREATE DATABASE $tmpl" >/dev/null
vol() { echo $(($1 * SCALE)); }
"$work/ip2adb" --db "$PG/$tmpl?sslmode=disable" seed --stress --members "$(vol 10000)" --organizations "$(vol 750)" \
	--locations "$(vol 250)" --instructors "$(vol 500)" --students "$(vol 1000)" --format json >"$work/seed.json"
q=$((FAULTS / 4))
psql -q -v ON_ERROR_STOP=1 "$PG/$tmpl?sslmode=disable" >/dev/null <<SQL
INSERT INTO member_employments (member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current)
SELECT 100000000 + g, (SELECT min(id) FROM organizations), DATE '2020-01-01', NULL, 'Wireman', 40.00, FALSE FROM generate_series(1, $q) g;
INSERT INTO member_employments (member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current)
SELECT (SELECT min(id) FROM members), 100000000 + g, DATE '2020-01-01', NULL, 'Wireman', 40.00, FALSE FROM generate_series(1, $q) g;
INSERT INTO member_employments (member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current)
SELECT (SELECT min(id) FROM members), (SELECT min(id) FROM organizations), DATE '2020-06-01', DATE '2020-01-01', 'Wireman', 40.00, FALSE FROM generate_series(1, $q) g;
INSERT INTO member_employments (member_id, organization_id, start_date, end_date, job_title, hourly_rate, is_current)
SELECT (SELECT min(id) FROM members), (SELECT min(id) FROM organizations), DATE '2020-01-01', DATE '2021-01-01', 'Wireman', 40.00, TRUE FROM generate_series(1, $q) g;
SQL
# The journal (empty) goes: each binary's run creates it in its own layout,
# as on a database it journals for the first time, so that a baseline built
# before a change of the journal's layout is timed with its own.
psql -q "$PG/$tmpl?sslmode=disable" -c "DROP TABLE IF EXISTS ip2adb.journal" -c "VACUUM ANALYZE" >/dev/null
rows=$(jq .rows "$work/seed.json")
echo "stress database x$SCALE: $rows rows seeded, $((4 * q)) faulty employments planted"

# fresh: a new copy of the template as $db. PostgreSQL 15 copies the
# template through the WAL; a checkpoint then keeps the copy's writes out
# of the timed command (without it a checkpoint that falls inside a run
# moved single runs by ±40 %).
fresh() {
	psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db TEMPLATE $tmpl" >/dev/null
	psql -q "$admin" -c "CHECKPOINT" >/dev/null
}

# heal BIN LABEL: one auto-heal on a fresh copy of the template.
heal() {
	local bin=$1 label=$2
	fresh
	rm -rf "$work/logs"
	/usr/bin/time -v -o "$work/time.txt" "$bin" --db "$PG/$db?sslmode=disable" --log-dir "$work/logs" \
		auto-heal --no-files --format json >"$work/heal.json" || true
	local fixed wall secs rss rate
	fixed=$(jq '.summary.fixed' "$work/heal.json")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
	secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/time.txt")
	rate=$(echo "$fixed / $secs" | bc)
	printf "%s: auto-heal --no-files repaired %d rows in %.2f s (whole command) = %d rows/s, peak RSS %d MB\n" \
		"$label" "$fixed" "$secs" "$rate" "$rss"
	jq -r '.repairs[] | "    \(.check): \(.rows) rows (\(.action))"' "$work/heal.json"
	# Undo restores every journaled row (the repairs are undoable).
	local run
	run=$(jq -r .run_id "$work/heal.json")
	"$bin" --db "$PG/$db?sslmode=disable" --log-dir "$work/logs" undo "$run" --format json >"$work/undo.json" 2>"$work/undo.err" ||
		{ echo "    undo failed: $(cat "$work/undo.err")"; return; }
	local left
	left=$(psql -At "$PG/$db?sslmode=disable" -c "SELECT count(*) FROM member_employments WHERE member_id > 100000000 OR organization_id > 100000000 OR end_date < start_date OR (is_current AND end_date IS NOT NULL)")
	echo "    undo: $left faulty employments back (planted $((4 * q)))"
}

# floor LABEL: the least time of any auto-heal of these faults here.
floor() {
	fresh
	/usr/bin/time -f '%e' -o "$work/time.txt" "$work/ip2adb" --db "$PG/$db?sslmode=disable" integrity --no-files --format json >/dev/null || true
	local checks
	checks=$(tail -n 1 "$work/time.txt") # after "Command exited with non-zero status 1"
	fresh
	# The journal at its least: one row per changed row with its
	# before-image, the images made beforehand (not timed), written to a
	# table with no index. Then the data changes with the cheapest
	# predicates (the orphans through their index: every planted orphan
	# lies above the parent's greatest key; the date rules have no index
	# to serve them), and the commit.
	psql -q -v ON_ERROR_STOP=1 "$PG/$db?sslmode=disable" >"$work/floor.txt" <<'SQL'
CREATE TABLE ip2adb_floor_journal (run_id text, record_id bigint, before_image text);
CREATE TEMP TABLE ip2adb_floor_images AS SELECT id, row_to_json(e)::text AS image FROM member_employments e
WHERE member_id > (SELECT max(id) FROM members) OR organization_id > (SELECT max(id) FROM organizations)
   OR end_date < start_date OR (is_current AND end_date IS NOT NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET LOCAL jit = off;
\timing on
INSERT INTO ip2adb_floor_journal SELECT 'run', id, image FROM ip2adb_floor_images;
DELETE FROM member_employments WHERE member_id > (SELECT max(id) FROM members);
DELETE FROM member_employments WHERE organization_id > (SELECT max(id) FROM organizations);
UPDATE member_employments SET end_date = NULL, updated_at = now() WHERE end_date < start_date;
UPDATE member_employments SET is_current = FALSE, updated_at = now() WHERE is_current AND end_date IS NOT NULL;
COMMIT;
SQL
	local journal dml
	journal=$(awk '/^Time:/ {n++; if (n == 1) printf "%.3f", $2 / 1000}' "$work/floor.txt")
	dml=$(awk '/^Time:/ {n++; if (n > 1) s += $2} END {printf "%.3f", s / 1000}' "$work/floor.txt")
	printf "%s: floor: integrity --no-files %.2f s + the bare repairs %.2f s + the least journal %.2f s = %.2f s (%d rows/s at most)\n" \
		"$1" "$checks" "$dml" "$journal" "$(echo "$checks + $dml + $journal" | bc -l)" "$(echo "$((4 * q)) / ($checks + $dml + $journal)" | bc)"
}

for run in $(seq 1 "$RUNS"); do
	heal "$work/ip2adb" "run $run, this tree"
	if [[ ${IP2ADB_BENCH_FLOOR:-} == 1 ]]; then
		floor "run $run"
	fi
	if [[ -n $BASELINE ]]; then
		heal "$BASELINE" "run $run, baseline $(basename "$BASELINE")"
	fi
done
