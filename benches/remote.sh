#!/usr/bin/env bash
# Remote step of the benchmark: art against restic and DVC on the same S3 endpoint (moto_server on
# 127.0.0.1, in memory), on the shared datasets and their 1% change.
#   cargo build --release && benches/remote.sh [small] [large]
# Needs python3 (moto goes into target/moto-venv when missing), restic (Debian package) and
# the data of ../shared/bench/gen_data.py in $ARTBENCH_ROOT/data (generated when missing).
# Prints a Markdown table: seconds of whole commands, each after `sync`, and byte ratios.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
art="${ART_BIN:-$repo/target/release/art}"
root="${ARTBENCH_ROOT:-/tmp/artbench}"
data="$root/data"
work="$root/remote-bench"
datasets=("$@")
[ ${#datasets[@]} -eq 0 ] && datasets=(small large)
venv="$repo/target/moto-venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'moto[s3]==5.2.5' 'flask==3.1.3' 'flask-cors==6.0.5'
fi
command -v restic >/dev/null || { echo "restic not found (apt-get install restic)" >&2; exit 1; }
for d in "${datasets[@]}"; do
  [ -e "$data/$d.complete" ] || python3 "$repo/../shared/bench/gen_data.py" "$data" >&2
done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 RESTIC_PASSWORD=bench

# seconds OUT CMD…: runs CMD (stdout to OUT) after sync and prints how long it took.
seconds() {
  local out=$1 t0 t1
  shift
  sync
  t0=$(date +%s%N)
  "$@" >"$out"
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# start_moto: a fresh moto_server on a free port in the current directory, with bucket
# `bench`; sets $moto (its pid) and $endpoint.
start_moto() {
  "$venv/bin/moto_server" -H 127.0.0.1 -p 0 2>moto.log &
  moto=$!
  trap 'kill $moto 2>/dev/null || true' EXIT
  local port=""
  for _ in $(seq 100); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' moto.log | head -1 | cut -d: -f3 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  endpoint="http://127.0.0.1:$port"
  curl -sf -X PUT "$endpoint/bench" >/dev/null
}

echo "| dataset | art log v1 | art push v1 | art log+push v1 | restic backup v1 | art log v2 | art push v2 | restic backup v2 | v2 pushed / v2 new | art checkout v1 (evicted) | restic restore v1 | fetched / v1 stored |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for d in "${datasets[@]}"; do
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  start_moto
  repo_url="s3:$endpoint/bench/restic"
  restic -r "$repo_url" init >/dev/null

  cp -a "$data/$d" ws
  "$art" init -q
  "$art" remote add origin s3://bench/art --endpoint "$endpoint" --allow-http -q
  log1=$(seconds /dev/null "$art" log ds ws)
  push1=$(seconds push1.json "$art" --json push)
  rb1=$(seconds /dev/null restic -r "$repo_url" backup --host bench ws)
  v1_bytes=$(json push1.json "['bytes_uploaded']")

  rm -rf ws; cp -a "$data/${d}_v2" ws
  log2=$(seconds log2.json "$art" --json log ds ws)
  push2=$(seconds push2.json "$art" --json push)
  rb2=$(seconds /dev/null restic -r "$repo_url" backup --host bench ws)
  v2_ratio=$(ratio "$(json push2.json "['bytes_uploaded']")" "$(json log2.json "['stored_bytes']")")

  # Every pack leaves the store, then v1 comes back from the remote by ranged reads.
  "$art" gc --max 0 -q
  co=$(seconds co.json "$art" --json checkout ds:v0 "$work/out")
  diff -r "$work/out" "$data/$d" >/dev/null || { echo "art checkout of v1 differs" >&2; exit 1; }
  first=$(restic -r "$repo_url" snapshots --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['short_id'])")
  rr=$(seconds /dev/null restic -r "$repo_url" restore "$first" --target "$work/rr")
  fetched=$(ratio "$(json co.json "['fetched_bytes']")" "$v1_bytes")
  both=$(awk -v a="$log1" -v b="$push1" 'BEGIN { printf "%.2f", a + b }')
  echo "| $d | $log1 | $push1 | $both | $rb1 | $log2 | $push2 | $rb2 | $v2_ratio | $co | $rr | $fetched |"
  kill $moto; wait $moto 2>/dev/null || true
  cd "$repo"
done

# art against DVC (dvc-s3) to the same kind of endpoint, when `dvc` is installed
# (pip install 'dvc[s3]'; DVC=path/to/dvc): add+push of v1, of v2 after the 1% change, and
# getting v1 into a fresh directory (art clone + checkout, dvc pull).
dvc="${DVC:-$(command -v dvc || true)}"
[ -n "$dvc" ] || { echo "dvc not found: DVC comparison skipped" >&2; exit 0; }
echo
echo "| dataset | art log+push v1 | dvc add+push v1 | art log+push v2 | dvc add+push v2 | art clone+checkout v1 | dvc pull v1 (fresh) | art bytes up v1+v2 | dvc bytes up v1+v2 |"
echo "|---|---|---|---|---|---|---|---|---|"
for d in "${datasets[@]}"; do
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  start_moto

  mkdir a && cd a
  cp -a "$data/$d" ws
  "$art" init -q
  "$art" remote add origin s3://bench/art --endpoint "$endpoint" --allow-http -q
  a1=$(seconds /dev/null sh -c "\"$art\" log ds ws -q && \"$art\" --json push > push1.json")
  rm -rf ws; cp -a "$data/${d}_v2" ws
  a2=$(seconds /dev/null sh -c "\"$art\" log ds ws -q && \"$art\" --json push > push2.json")
  art_up=$(( $(json push1.json "['bytes_uploaded']") + $(json push2.json "['bytes_uploaded']") ))
  cd "$work"
  ac=$(seconds /dev/null sh -c "\"$art\" clone s3://bench/art b --endpoint \"$endpoint\" --allow-http -q && cd b && \"$art\" checkout ds:v0 ws -q")
  diff -r b/ws "$data/$d" >/dev/null || { echo "art clone + checkout of v1 differs" >&2; exit 1; }

  mkdir dv && cd dv
  cp -a "$data/$d" ws
  "$dvc" init --no-scm -q
  "$dvc" remote add -d s3 s3://bench/dvc -q
  "$dvc" remote modify s3 endpointurl "$endpoint"
  d1=$(seconds /dev/null sh -c "\"$dvc\" add ws -q && \"$dvc\" push -q")
  cp ws.dvc ws.dvc.v1
  rm -rf ws; cp -a "$data/${d}_v2" ws
  d2=$(seconds /dev/null sh -c "\"$dvc\" add ws -q && \"$dvc\" push -q")
  dvc_up=$(curl -sf "$endpoint/bench?prefix=dvc/&list-type=2&max-keys=100000" | python3 -c "import re,sys; print(sum(int(x) for x in re.findall(r'<Size>(\d+)</Size>', sys.stdin.read())))")
  cd "$work"
  mkdir dp && cd dp
  "$dvc" init --no-scm -q
  "$dvc" remote add -d s3 s3://bench/dvc -q
  "$dvc" remote modify s3 endpointurl "$endpoint"
  cp ../dv/ws.dvc.v1 ws.dvc
  dp=$(seconds /dev/null "$dvc" pull -q)
  diff -r ws "$data/$d" >/dev/null || { echo "dvc pull of v1 differs" >&2; exit 1; }
  echo "| $d | $a1 | $d1 | $a2 | $d2 | $ac | $dp | $art_up | $dvc_up |"
  kill $moto; wait $moto 2>/dev/null || true
  cd "$repo"
done
