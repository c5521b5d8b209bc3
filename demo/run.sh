#!/usr/bin/env bash
# The main job on the bundled fixture CDN: no GOG account, no internet.
# Builds galaxy-dl and the in-tree GOG mock, serves the fixture products on 127.0.0.1, then
# logs in, lists builds, shows a build, installs a V2 (chunked) and a V1 (main.bin) product with
# progress, verifies both, and finishes with a plain `get` of a generated file.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "galaxy-dl $*"; "$BIN" "$@"; }

echo "building (release)..."
cargo build --release --quiet --bin galaxy-dl -p galaxy-dl
cargo build --release --quiet --bin galaxy-dl-mock -p galaxy-dl-mock
BIN=$PWD/target/release/galaxy-dl
MOCK=$PWD/target/release/galaxy-dl-mock

work=$(mktemp -d "${TMPDIR:-/tmp}/galaxy-dl-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start() { # start NAME ARGS...: run the mock in the background, wait for its "ready" line
  local name=$1; shift
  "$MOCK" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null &
  pids+=($!)
  for _ in $(seq 1 600); do
    grep -q '^# ready' "$work/$name.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "the mock did not start:"; cat "$work/$name.err"; exit 1
}

start gog --chunk-size 1M --v1-size 64M
# shellcheck disable=SC1090
source <(grep '^export ' "$work/gog.out")
export GALAXY_DL_CONFIG_DIR=$work/config
echo "fixture GOG on $GALAXY_DL_CONTENT_SYSTEM_URL (auth, content-system, CDN, embed)"

run login
run login --code "https://embed.gog.com/on_login_success?origin=client&code=fixture-login-code"
run builds 1000000001
run info 1000000001
run download 1000000001 --dir "$work/Fixture Quest"
if "$BIN" verify --help >/dev/null 2>&1; then run verify "$work/Fixture Quest"; fi
run download 1000000003 --dir "$work/Fixture Legacy"
if "$BIN" verify --help >/dev/null 2>&1; then run verify "$work/Fixture Legacy"; fi

start blob --blob 256M
url=$(sed -n 's/^# url: \([^ ]*\) md5: \([0-9a-f]*\).*/\1/p' "$work/blob.out")
md5=$(sed -n 's/^# url: \([^ ]*\) md5: \([0-9a-f]*\).*/\2/p' "$work/blob.out")
run get "$url" -o "$work/blob.bin" --md5 "$md5"

echo
echo "demo finished: every file above was verified by MD5."
