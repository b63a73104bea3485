#!/bin/bash
# Interleaved A/B of the day's import (issue 18) on one loaded database: "old" = the usage
# migrations up to 0003 and the code of BASE (default main at c3ffabc, before migrations 0004–0006),
# "new" = this tree; the benchmark file of this tree in both. Each run resets the database itself
# (bench_usage_import.py: the previous day deleted, roll-ups restored, VACUUM ANALYZE, CHECKPOINT).
# The schema toggles only when the variant changes (ABBA order saves rebuilding the 15 M-row
# month's unique index: ~1 min); after each toggle CardUsage is rewritten (VACUUM FULL) so both
# variants start from a table packed at their own fillfactor.
#
#   DB=cp_feed15 REDIS_URL=redis://127.0.0.1:6379/3 bench/usage_import_ab.sh "old:default new:default new:scattered old:scattered"
#   BASE=79f0f31 OLD_MIGRATION=0006 DB=… REDIS_URL=… bench/usage_import_ab.sh "old:default new:default old:default new:default"
#
# A run is variant:references[:digest]; references `default` (the generator's, sorting together)
# or `scattered` (--scattered-references). Leaves the database at the last run's variant.
set -eu
DB=${DB:?DB=cp_… (a database loaded by bench_usage_import.py)}
BASE=${BASE:-c3ffabc}
# the last usage migration of BASE (c3ffabc: 0003)
OLD_MIGRATION=${OLD_MIGRATION:-0003}
NICE=${NICE:-}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=$HERE/.venv/bin/python
# a Redis database for the tasks the import's commit starts: without one Celery runs them eagerly,
# inside the timed import (the analytics refresh: seconds)
REDIS_URL=${REDIS_URL:?REDIS_URL=redis://127.0.0.1:6379/N (a spare database)}
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL DEBUG=1
OLD=$(mktemp -d)
trap 'rm -rf "$OLD"' EXIT
git -C "$HERE" archive "$BASE" | tar -x -C "$OLD"
ln -s "$HERE/.venv" "$OLD/.venv"
cp "$HERE/bench/bench_usage_import.py" "$OLD/bench/"
LATEST=$(basename "$(ls "$HERE"/merchants/usage/migrations/0*.py | tail -1)" .py)
sql() { psql -h 127.0.0.1 -U postgres "$DB" -Atqc "$1"; }
for spec in $1; do
  IFS=: read -r variant refs digest <<< "$spec"
  later=$(sql "SELECT count(*) FROM django_migrations WHERE app = 'usage' AND name > '${OLD_MIGRATION}_z'")
  latest=$(sql "SELECT count(*) FROM django_migrations WHERE app = 'usage' AND name = '$LATEST'")
  if [ "$variant" = old ] && [ "$later" != 0 ]; then
    (cd "$HERE" && $NICE "$PY" manage.py migrate usage "$OLD_MIGRATION" -v0) && sql "VACUUM FULL usage_cardusage"
  elif [ "$variant" = new ] && [ "$latest" = 0 ]; then
    (cd "$HERE" && $NICE "$PY" manage.py migrate usage -v0) && sql "VACUUM FULL usage_cardusage"
  fi
  tree=$HERE
  [ "$variant" = old ] && tree=$OLD
  args=(--members 1500000 --month-rows 15000000 --day-rows 500000)
  [ "$refs" = scattered ] && args+=(--scattered-references)
  [ "$digest" = digest ] && args+=(--digest)
  echo "== $variant $refs ($(uptime | sed 's/.*load/load/'))"
  (cd "$tree" && $NICE "$PY" -u bench/bench_usage_import.py "${args[@]}")
  echo "== after: $(uptime | sed 's/.*load/load/')"
done
