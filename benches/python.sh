#!/usr/bin/env bash
# The Python API against the CLI (issue 14): log a dataset as a new artifact and download it
# into an empty directory, through `art` and through `art_store` (Store.log_artifact of an
# add_dir, Artifact.download), and, when `wandb` imports, W&B's offline mode doing the same
# (WANDB_MODE=offline: Artifact.add_dir + log_artifact, then download from the local cache).
#   cargo build --release && bash scripts/test.sh (or maturin develop --release) && benches/python.sh [small] [large]
# The venv is target/py-venv (art_store built there by scripts/test.sh); wandb is used from it
# when installed (pip install wandb). Data: ../shared/bench/gen_data.py in $ARTBENCH_ROOT/data.
# Prints a Markdown table of wall seconds (median of 3), each run on a new store after `sync`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
art="${ART_BIN:-$repo/target/release/art}"
py="${PYTHON:-$repo/target/py-venv/bin/python}"
root="${ARTBENCH_ROOT:-/tmp/artbench}"
data="$root/data"
work="$root/python-bench"
datasets=("$@")
[ ${#datasets[@]} -eq 0 ] && datasets=(small large)
[ -x "$art" ] || { echo "build first: cargo build --release" >&2; exit 1; }
"$py" -c "import art_store" || { echo "art_store is not installed in $py" >&2; exit 1; }
have_wandb=$("$py" -c "import wandb" 2>/dev/null && echo yes || echo no)

# median3 CMD…: median wall seconds of three runs, each in a fresh $work.
median3() {
  local ts=()
  for _ in 1 2 3; do
    rm -rf "$work"; mkdir -p "$work"; sync
    local t0 t1
    t0=$(date +%s%N); ("$@") >/dev/null; t1=$(date +%s%N)
    ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')")
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n 2p
}

cli_log() { cd "$work" && "$art" init -q && "$art" log ds "$1" -q; }
cli_both() { cli_log "$1" && "$art" download ds "$work/out" -q; }
py_log() {
  cd "$work" && "$py" - "$1" <<'PY'
import sys, art_store
s = art_store.Store.init(".")
a = art_store.Artifact("ds", "dataset"); a.add_dir(sys.argv[1]); s.log_artifact(a)
PY
}
py_both() {
  cd "$work" && "$py" - "$1" <<'PY'
import sys, art_store
s = art_store.Store.init(".")
a = art_store.Artifact("ds", "dataset"); a.add_dir(sys.argv[1]); s.log_artifact(a)
s.artifact("ds").download("out")
PY
}
wb_log() {
  cd "$work" && WANDB_MODE=offline WANDB_SILENT=true WANDB_DIR="$work" WANDB_CACHE_DIR="$work/cache" "$py" - "$1" <<'PY'
import sys, wandb
run = wandb.init(project="bench")
a = wandb.Artifact("ds", type="dataset"); a.add_dir(sys.argv[1]); run.log_artifact(a)
run.finish()
PY
}

echo "| dataset | art log | art_store log | ratio | art log+download | art_store log+download | ratio | wandb offline log |"
echo "|---|---|---|---|---|---|---|---|"
for d in "${datasets[@]}"; do
  src="$data/$d"
  [ -d "$src" ] || { echo "no $src: run ../shared/bench/gen_data.py $data" >&2; exit 1; }
  c1=$(median3 cli_log "$src"); p1=$(median3 py_log "$src")
  c2=$(median3 cli_both "$src"); p2=$(median3 py_both "$src")
  w1="-"
  [ "$have_wandb" = yes ] && w1=$(median3 wb_log "$src")
  r1=$(awk -v a="$p1" -v b="$c1" 'BEGIN { printf "%.2f", a / b }')
  r2=$(awk -v a="$p2" -v b="$c2" 'BEGIN { printf "%.2f", a / b }')
  echo "| $d | $c1 | $p1 | $r1 | $c2 | $p2 | $r2 | $w1 |"
done
