#!/usr/bin/env bash
# Patch cost series: what `art patch` (2 files changed) and a full `art log` of the same
# change cost on versions of N files, in seconds and bytes added to the store.
#   cargo build --release && benches/patch.sh [COUNTS...]     default: 1000 100000 1000000
# Files are tiny (0-64 bytes) so the series measures manifests and scans, not content.
# Prints a Markdown table.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
art="${ART_BIN:-$repo/target/release/art}"
[[ -x "$art" ]] || { echo "build first: cargo build --release" >&2; exit 1; }
counts=("$@"); ((${#counts[@]})) || counts=(1000 100000 1000000)
root="${PATCH_ROOT:-/tmp/art-patch-bench}"

gen() { # dir, files: files of 0-64 bytes in dirs of 1000
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
r = random.Random(n)
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d.txt" % i), "wb") as f:
        f.write(r.randbytes(r.randint(0, 64)))
PY
}

secs() { # OUT CMD...: run, stdout to OUT, print wall seconds
  local out=$1 t0 t1; shift
  t0=$(date +%s%N); "$@" >"$out"; t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

echo "| files | v0 stored (MiB) | art patch +2 files (s) | patch stored (KiB) | art log after the same change (s) | log stored (KiB) |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in "${counts[@]}"; do
  rm -rf "$root"; mkdir -p "$root/tree"; cd "$root"
  gen "$root/tree" "$n"
  "$art" init -q
  v0=$(secs v0.json "$art" --json log ds tree)
  stored0=$(field v0.json stored_bytes)
  "$art" -q log other tree  # the same tree as a second artifact, for the comparison below
  printf 'patched a\n' > new-a.txt; printf 'patched b\n' > new-b.txt
  sync
  tp=$(secs p.json "$art" --json patch ds --add new-a.txt=d0000/f0000001.txt --add new-b.txt=d0000/extra.txt)
  sp=$(field p.json stored_bytes)
  # The same change made in the tree and logged whole (with a warm stat cache): what a
  # patch saves is the scan of every file, not bytes (both write a few manifest chunks).
  # (different bytes, or the log would find the patched version's manifest already stored).
  printf 'logged a\n' > tree/d0000/f0000001.txt; printf 'logged b\n' > tree/d0000/extra.txt
  sync
  tl=$(secs l.json "$art" --json log other tree)
  sl=$(field l.json stored_bytes)
  printf '| %s | %.1f | %s | %s | %s | %s |\n' "$n" "$(awk -v b="$stored0" 'BEGIN{print b/1048576}')" \
    "$tp" "$(kib "$sp")" "$tl" "$(kib "$sl")"
done
