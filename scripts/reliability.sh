#!/usr/bin/env bash
# Runs the reliability suite (failpoints, kill -9, corruption, concurrency, full disk, a
# read-only store; tests/cli/faults.rs, kills.rs, corruption.rs, concurrency.rs, full_disk.rs,
# permissions.rs, review.rs) and writes RELIABILITY.md from the counts each
# scenario reports through ART_RELIABILITY_REPORT. The same tests run in scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
ART_RELIABILITY_REPORT="$report" cargo test --locked --test cli -- \
  faults:: kills:: corruption:: concurrency:: full_disk:: permissions:: \
  review::a_full_disk_fails_the_log
{
  echo "# Reliability"
  echo
  echo "Written by \`bash scripts/reliability.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, debug build"
  echo "as in \`cargo test\`); every row passed. A kill lands mid-operation when it ends the command"
  echo "after its start-up (the time \`art ls\` takes on the same store) and before it finished;"
  echo "for failpoints, the trials whose action was a SIGKILL at the failpoint."
  echo "After every trial: \`art fsck\` clean (it compares the index with a replay of the log),"
  echo "versions committed before restore byte for byte, and the command runs again to completion;"
  echo "see README.md, \"Reliability suite\"."
  echo
  echo "| scenario | trials | kills landed mid-operation | result | seconds |"
  echo "|---|---:|---:|---|---:|"
  sort "$report" | while IFS=$'\t' read -r scenario trials landed result seconds; do
    echo "| $scenario | $trials | $landed | $result | $seconds |"
  done
} > RELIABILITY.md
echo "wrote RELIABILITY.md ($(wc -l < "$report") scenarios)"
