#!/usr/bin/env bash
# galaxy-dl at scale (issue 10, Deliver 5): a V2 depot of FILES files and a V1 main.bin of
# V1_SIZE, installed from the loopback mock with WORKERS workers. For each product:
#   plan    `download --dry-run` (fetches and parses every manifest, plans, writes nothing)
#   fresh   a full install into an empty DIR
#   verify  `galaxy-dl verify` of that install
#   killed  a second install into an empty DIR, SIGKILLed once the mock served half the bytes
#   resume  the same command again: time to its first data request, total time, bytes served
# Each run records wall time, time to the first data request (chunk or main.bin range; the
# planning a user waits through), peak RssAnon and VmHWM of galaxy-dl (bench/scale_run.py,
# /proc/PID/status every 10 ms) and the 1-minute load average at its start.
# Not part of CI. Run from anywhere: bash bench/scale.sh      (takes ~5 min and ~5 GiB of disk)
#
# Then (unless SKIP_SWEEP=1) a sweep of V2 file counts (SWEEP, 8 KiB per file) with a plan and a
# fresh install each, to show how memory and planning time grow with the number of files.
# Env: FILES=20000 V2_SIZE=1G V1_SIZE=4G WORKERS=64 CHUNK=10M SWEEP="2500 5000 10000 20000"
#      SKIP_MAIN=1 (only the sweep) SKIP_V1=1 (no V1 product) SKIP_SWEEP=1 SKIP_BUILD=1
# Output: bench/out/scale/results.jsonl (one JSON object per run) and a Markdown table on
# stdout; install dirs are deleted at the end. Everything goes to 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FILES=${FILES:-20000}
V2_SIZE=${V2_SIZE:-1G}
V1_SIZE=${V1_SIZE:-4G}
WORKERS=${WORKERS:-64}
CHUNK=${CHUNK:-10M}
V2_ID=1000000004
V1_ID=1000000005

OUT=$ROOT/bench/out/scale
DL=$OUT/dl
RES=$OUT/results.jsonl
GDL=$ROOT/target/release/galaxy-dl
MOCK=$ROOT/target/release/galaxy-dl-mock
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

CLEAN_DIRS=("$DL")
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ ${SKIP_BUILD:-0} == 1 ]] || cargo build --release -q -p galaxy-dl -p galaxy-dl-mock
mkdir -p "$OUT"
rm -rf "$DL"
# start_mock waits for "# ready" in $OUT/mock-NAME.out; a file left by an earlier run could be
# read before the new mock's redirection truncates it (seen under load: a stale port).
rm -f "$OUT"/mock-*.out
: >"$RES"
disk_and_load_check
log "machine: $(nproc) vCPU, $(free -h | awk '/^Mem:/ {print $2}') RAM, kernel $(uname -r), fs $FSTYPE, load $LOAD_START"
log "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src mock || echo '+dirty')"

run() { # label kill_at_bytes args...
    local label=$1 kill_at=$2
    shift 2
    python3 bench/scale_run.py "$OUT/stats" "$RES" "$label" "$kill_at" "$GDL" "$@" >&2
}

if [[ ${SKIP_MAIN:-0} != 1 ]]; then
t=$(date +%s.%N)
start_mock scale --chunk-size "$CHUNK" --v1-size 1M --bench-v2 "$V2_SIZE" --bench-v2-files "$FILES" \
    --bench-v1 "$V1_SIZE" --stats-file "$OUT/stats"
log "mock generated the products in $(fsub "$t" "$(date +%s.%N)") s"
use_mock_env scale
login

product() { # name id
    local name=$1 id=$2 dir=$DL/$1 total
    run "$name plan (--dry-run)" 0 download "$id" --dir "$dir" --workers "$WORKERS" --dry-run
    run "$name fresh install" 0 download "$id" --dir "$dir" --workers "$WORKERS" --quiet
    total=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["served_bytes"])' "$RES")
    run "$name verify" 0 verify "$dir" --quiet
    rm -rf "$dir"
    sync
    run "$name install, SIGKILL at half" $((total / 2)) download "$id" --dir "$dir" --workers "$WORKERS" --quiet
    run "$name resume" 0 download "$id" --dir "$dir" --workers "$WORKERS"
    run "$name verify after resume" 0 verify "$dir" --quiet
    rm -rf "$dir"
    sync
}

product v2 "$V2_ID"
[[ ${SKIP_V1:-0} == 1 ]] || product v1 "$V1_ID"
stop_mock
fi

if [[ ${SKIP_SWEEP:-0} != 1 ]]; then
    for n in ${SWEEP:-2500 5000 10000 20000}; do
        start_mock "sweep$n" --chunk-size "$CHUNK" --v1-size 1M --bench-v2 $((n * 8))K --bench-v2-files "$n" \
            --stats-file "$OUT/stats"
        use_mock_env "sweep$n"
        login
        run "sweep: $n files plan (--dry-run)" 0 download "$V2_ID" --dir "$DL/sweep" --workers "$WORKERS" --dry-run
        run "sweep: $n files install" 0 download "$V2_ID" --dir "$DL/sweep" --workers "$WORKERS" --quiet
        rm -rf "$DL/sweep"
        stop_mock
    done
fi

python3 - "$RES" "$FILES" "$V2_SIZE" "$V1_SIZE" "$WORKERS" <<'PY'
import json, sys
res, files, v2, v1, workers = sys.argv[1:]
print(f"V2: {files} files, {v2} in all; V1: main.bin {v1}; sweep: 8 KiB per file; {workers} workers\n")
print("| run | exit | wall s | first data request s | peak RssAnon MiB | VmHWM MiB | served MiB | data requests | load (1/5/15 min) |")
print("|---|---|---|---|---|---|---|---|---|")
for l in open(res):
    r = json.loads(l)
    ttfb = "-" if r["ttfb_s"] is None else f'{r["ttfb_s"]:.2f}'
    rc = "killed" if r["killed"] else r["rc"]
    print(f'| {r["label"]} | {rc} | {r["wall_s"]:.2f} | {ttfb} | {r["peak_rss_anon_kib"]/1024:.1f} | '
          f'{r["vm_hwm_kib"]/1024:.1f} | {r["served_bytes"]/2**20:.1f} | {r["data_requests"]} | {r["load"]} |')
PY
