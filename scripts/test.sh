#!/usr/bin/env bash
# The full test command (README "Run all tests"; .ci/run calls exactly this):
# formatting, lints as errors, then every test (unit, CLI, property, crash, doc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo >/dev/null || { echo "cargo not found: install the Rust toolchain" >&2; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The Python binding (a workspace member the root commands skip).
cargo clippy -p art-python --all-targets --locked -- -D warnings
# The lineage tests render DOT with Graphviz.
command -v dot >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz)
# The `art ui` browser test drives Debian's headless Chromium; with this set it fails rather
# than skips when Chromium is missing.
command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)
export ART_TEST_REQUIRE_CHROMIUM=1
# An S3 server independent of the in-process s3s-fs: moto, in a venv beside the build.
venv=target/moto-venv
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'moto[s3]==5.2.5' 'flask==3.1.3' 'flask-cors==6.0.5'
fi
export ART_TEST_MOTO="$PWD/$venv/bin/moto_server"
# Azure Blob Storage's emulator, Azurite, from npm (3.35.0: the last that runs on Node 20).
azurite=target/azurite
if [ ! -x "$azurite/node_modules/.bin/azurite-blob" ]; then
  command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
  mkdir -p "$azurite"
  echo '{"private": true}' > "$azurite/package.json"
  (cd "$azurite" && npm install --silent --no-audit --no-fund azurite@3.35.0)
fi
export ART_TEST_AZURITE="$PWD/$azurite/node_modules/.bin/azurite-blob"
cargo test --locked
# The Python binding (python/, distribution art-store): built with maturin into a venv beside
# the build (same target directory and release profile as `art`), then its pytest suite.
pyvenv="$(realpath -m "${CARGO_TARGET_DIR:-target}")/py-venv"
if [ ! -x "$pyvenv/bin/maturin" ]; then
  python3 -m venv "$pyvenv"
  "$pyvenv/bin/pip" install -q 'maturin==1.16.0' 'pytest==9.2.0'
fi
# pandas for the DataFrame tests (`Artifact.add`/`get` of tables); required, not skipped.
"$pyvenv/bin/python" -c "import pandas" 2>/dev/null || "$pyvenv/bin/pip" install -q 'pandas==2.3.3'
export ART_TEST_REQUIRE_PANDAS=1
(cd python && VIRTUAL_ENV="$pyvenv" "$pyvenv/bin/maturin" develop --release --locked -q)
"$pyvenv/bin/pytest" -q python/tests
