#!/usr/bin/env bash
# Scale series: how `art log`, `art diff` and `art checkout` grow with the number of files,
# and how `art log` after changing k% of the files grows with k (not with the tree).
#   benches/scale.sh [COUNTS...]          default: 10000 100000
# Needs a release build (cargo build --release). Prints Markdown tables; times are wall
# seconds from /usr/bin/time, peak RSS in MiB.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
art="${ART_BIN:-$repo/target/release/art}"
[[ -x "$art" ]] || { echo "build first: cargo build --release" >&2; exit 1; }
counts=("$@"); ((${#counts[@]})) || counts=(10000 100000)
root="${SCALE_ROOT:-/tmp/art-scale}"

timed() { # command...: prints "seconds peak_rss_mib"
  local f; f=$(mktemp)
  /usr/bin/time -o "$f" -f "%e %M" "$@" >/dev/null 2>&1 || true
  tail -1 "$f" | awk '{printf "%s %.1f\n", $1, $2/1024}'
  rm -f "$f"
}

gen() { # dir, files: files of 0-4 KiB in dirs of 1000
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
r = random.Random(n)
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d.txt" % i), "wb") as f:
        f.write(r.randbytes(r.randint(0, 4096)))
PY
}

touch_pct() { # dir, percent: rewrite that share of files
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, pct = sys.argv[1], float(sys.argv[2])
files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs)
r = random.Random(7)
for p in r.sample(files, int(len(files) * pct / 100)):
    with open(p, "ab") as f:
        f.write(b"changed\n")
PY
}

echo "| files | log v1 s | relog unchanged s | diff (tree vs v0) s | checkout s | peak RSS MiB (log/checkout) |"
echo "|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
  w="$root/n$n"; rm -rf "$w"; mkdir -p "$w"; gen "$w/data" "$n"
  cd "$w"; "$art" init -q; sync
  read -r log_s log_rss < <(timed "$art" log ds data -q)
  read -r relog_s _ < <(timed "$art" log ds data -q)
  read -r diff_s _ < <(timed "$art" diff ds:v0 data)
  sync
  read -r co_s co_rss < <(timed "$art" checkout ds:v0 "$w/out" -q)
  echo "| $n | $log_s | $relog_s | $diff_s | $co_s | $log_rss / $co_rss |"
  if [[ "$n" == "${counts[-1]}" ]]; then
    growth=""
    for k in 0 1 10 100; do
      touch_pct "$w/data" "$k"; sync
      read -r s _ < <(timed "$art" log ds data -q)
      growth+="| $k% | $s |"$'\n'
    done
  fi
  cd /; rm -rf "$w"
done
echo
echo "log after changing k% of the ${counts[-1]} files:"
echo
echo "| changed | log s |"
echo "|---|---|"
printf '%s' "$growth"
