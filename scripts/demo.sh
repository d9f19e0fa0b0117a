#!/usr/bin/env bash
# The quick start: builds art, then runs the main job end to end on a copy of fixtures/
# (log a dataset and a model, change the data, log again, compare, alias, restore, verify,
# push to a remote, evict the local cache, restore from the remote, clone, merge two
# histories, promote a model into a registry collection).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
art="$repo/target/release/art"
work="$(mktemp -d "${TMPDIR:-/tmp}/art-demo.XXXXXX")"
cp -r "$repo/fixtures/." "$work/"
cd "$work"
step() { printf '\n$ art'; printf ' %q' "$@"; printf '\n'; "$art" "$@"; }

echo "demo directory: $work"
step init
step log dataset data -t dataset -a raw -m "toy dataset, first cut"
step log model model -t model --metadata '{"val_acc": 0.81}'
step log dataset data                        # nothing changed: no new version
printf '500,0.12345,0.54321,1\n' >> data/train.csv
rm data/README.md
step log dataset data -m "one more row, no README"
step versions dataset
step diff dataset:v0 dataset:v1 || true      # exit 1 means "different", like diff(1)
step alias set dataset:v1 best
step ls
step checkout dataset:raw restored           # v0, into a new directory
diff -r restored "$repo/fixtures/data" && echo "restored/ is byte-identical to fixtures/data"
step checkout dataset:v0                     # back in place: data/ is v0 again
step verify dataset:best
step fsck --read-data
# Share, then bound the local cache: push to a remote (a directory here; s3://… works the
# same), evict everything pushed, and check out again from the remote.
step remote add origin "$work/remote"
step push
step gc --max 0
step du
rm -rf restored
step checkout dataset:raw restored           # evicted blobs come back from origin
diff -r restored "$repo/fixtures/data" && echo "restored/ is byte-identical again, read from the remote"
step fsck --remote origin --read-data
# Elsewhere: a clone holds the history but no data; checkout reads it from the remote.
cd "$work" && mkdir elsewhere && cd elsewhere
step clone "$work/remote" .
step versions dataset
step checkout dataset:best data
step verify dataset:best data                # the directory, re-hashed against the version
# Both stores log a new dataset version without pulling: the later push is refused (exit 3),
# its pull renumbers its own version after the other's (dataset:v2 -> dataset:v3), and then
# it pushes.
printf '501,0.2,0.8,0\n' >> data/train.csv
step log dataset data -m "a row added elsewhere"
cd "$work"
printf '502,0.3,0.7,1\n' >> data/train.csv
step log dataset data -m "a row added here"
step push
cd "$work/elsewhere"
step push || true
step pull
step push
# A registry: promote the model into a collection and protect the production alias.
step link model:latest classifier -a production
step alias protect classifier production
step versions classifier
step lineage classifier:production
# Patch mode: the next dataset version is the last one plus a file, minus test.csv; only
# the added file is read (this clone holds no data of the dataset, and needs none).
printf 'id,label\n900,1\n' > extra.csv
step patch dataset --add extra.csv=labels/extra.csv --remove test.csv -m "patched"
step ls dataset
# Collaborative: two evaluation workers of one run group add their predictions to one
# pending version; a last command commits it.
mkdir -p w0 w1 && printf 'shard 0\n' > w0/preds-0.txt && printf 'shard 1\n' > w1/preds-1.txt
step run exec --group eval-1 -- "$art" log preds w0 -t predictions --distributed-id
step run exec --group eval-1 -- "$art" log preds w1 --distributed-id
step versions preds --pending
step finish preds --distributed-id eval-1 -a evaluated
step lineage preds:evaluated --up
