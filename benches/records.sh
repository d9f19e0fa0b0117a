#!/usr/bin/env bash
# Records and the log at scale: one artifact with N versions (default 10000, one small
# change each, so one log batch and one pack per version). Measures what a command costs
# on a long history (alias set, meta set: median of 15 runs) and a full rebuild of the
# index, from the log alone and from a checkpoint (written by gc).
#   benches/records.sh [N]
# Needs a release build (cargo build --release). Prints a Markdown table of wall times.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
art="${ART_BIN:-$repo/target/release/art}"
[[ -x "$art" ]] || { echo "build first: cargo build --release" >&2; exit 1; }
n="${1:-10000}"
root="${RECORDS_ROOT:-/tmp/art-records}"
rm -rf "$root" && mkdir -p "$root/data" && cd "$root"
"$art" init -q

ms() { # command...: wall milliseconds
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

t0=$(date +%s)
for ((i = 0; i < n; i++)); do
  echo "version $i" >data/v.txt
  "$art" log m data -q
done
echo "logged $n versions in $(($(date +%s) - t0)) s" >&2

alias_ms=$(for i in $(seq 1 15); do ms "$art" alias set "m:v$((i * 600))" best; done | median)
meta_ms=$(for i in $(seq 1 15); do ms "$art" meta set "m:v$((n - i))" --set "k=$i"; done | median)
log_ms=$(for i in $(seq 1 15); do echo "extra $i" >data/v.txt; ms "$art" log m data -q; done | median)
rebuild_log_ms=$(ms "$art" index rebuild)
"$art" gc -q
rebuild_cp_ms=$(ms "$art" index rebuild)
batches=$(find .artifacts/log -name '0*.json' | wc -l)
log_bytes=$(du -sb .artifacts/log | cut -f1)

echo "| versions | log batches | log size | alias set | meta set | log (1 file) | rebuild from log | rebuild from checkpoint |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $n | $batches | $((log_bytes / 1024)) KiB | ${alias_ms} ms | ${meta_ms} ms | ${log_ms} ms | ${rebuild_log_ms} ms | ${rebuild_cp_ms} ms |"
