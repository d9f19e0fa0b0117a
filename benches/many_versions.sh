#!/usr/bin/env bash
# Query latency on a store with 100 artifacts × 100 versions (10,000 versions): builds the
# store with `art log` (a few minutes), then times `ls`, `versions`, `show` over 10 runs each.
#   benches/many_versions.sh     (needs cargo build --release)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
art="${ART_BIN:-$repo/target/release/art}"
w="${VERSIONS_ROOT:-/tmp/art-many-versions}"
rm -rf "$w"; mkdir -p "$w/d"; cd "$w"
"$art" init -q
for a in $(seq 0 99); do
  for v in $(seq 0 99); do
    echo "$a $v" > d/f
    "$art" log "a$a" d -q -t model
  done
done
"$art" alias set a50:v42 best -q
python3 - "$art" <<'PY'
import statistics, subprocess, sys, time
art = sys.argv[1]
print("| command | median ms | max ms |\n|---|---|---|")
for cmd in (["ls"], ["versions", "a50"], ["show", "a50:v99"], ["show", "a50:best"], ["ls", "a50:v7"]):
    times = []
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run([art] + cmd, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    print("| art %s | %.1f | %.1f |" % (" ".join(cmd), statistics.median(times), max(times)))
PY
