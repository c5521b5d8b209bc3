#!/usr/bin/env bash
# galaxy-dl install benchmark: `galaxy-dl download` of the mock's bench products.
# Not part of CI. Run from anywhere: bash bench/install.sh   (see bench/README.md)
#
#   1000000004 "Bench V2": 4 files, 10 MiB zlib chunks (~1.56:1), per-chunk MD5s + file MD5
#   1000000005 "Bench V1": one main.bin, ~1000 small files (1-32 KiB) + up to 8 large files
#   1000000021 "Bench Game": game-like V2, 298 files 1 KiB-~108 MiB, small-files containers,
#              ~40% incompressible, chunks <= 10 MiB (mock/src/gog/game.rs)
#   1000000022 "Bench Game V1": its V1 twin, 302 files in one main.bin
#   lgogdownloader (apt) as a peer on 1000000021 (bench/peer.sh; it refuses V1)
#
# Env: SIZE_MIB=512 GAME_MIB=$SIZE_MIB RATE_MIB=20 WORKERS=8 ROUNDS=3
#      PRODUCTS="v2 v1 game-v2 game-v1" PEER=auto|0|1 PEER_THREADS=4 EQUAL_WORKERS=1
#      SKIP_CAPPED=1 SKIP_RSS=1 SKIP_MICRO=1 SKIP_PERF=1 MICRO_ROUNDS=3
#      CAPPED_ROUNDS_GAME_V1=N (paced game-v1 runs go on alone after the ROUNDS rounds until N)
#      REPORT=BENCHMARKS.md (section replaced/added in place; relative to repo root)
# Everything goes to 127.0.0.1 only. Work files: bench/out/install/ (gitignored, same fs as repo).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZE_MIB=${SIZE_MIB:-512}
GAME_MIB=${GAME_MIB:-$SIZE_MIB}
PRODUCTS=${PRODUCTS:-v2 v1 game-v2 game-v1}
PEER=${PEER:-auto}
EQUAL_WORKERS=${EQUAL_WORKERS:-1}
RATE_MIB=${RATE_MIB:-20}
WORKERS=${WORKERS:-8}
ROUNDS=${ROUNDS:-3}
SKIP_CAPPED=${SKIP_CAPPED:-0}
SKIP_RSS=${SKIP_RSS:-0}
SKIP_MICRO=${SKIP_MICRO:-0}
SKIP_PERF=${SKIP_PERF:-0}
MICRO_ROUNDS=${MICRO_ROUNDS:-3}
CAPPED_ROUNDS_GAME_V1=${CAPPED_ROUNDS_GAME_V1:-0}
REPORT=${REPORT:-BENCHMARKS.md}
V2_ID=1000000004
V1_ID=1000000005
GAME_V2_ID=1000000021
GAME_V1_ID=1000000022
RSS_WORKERS=8

OUT=$ROOT/bench/out/install
DL=$OUT/dl
# Earlier installs are moved here, not deleted, until the harness ends: ext4 checks every free
# inode it considers against "deleted in the last 30 s" (fs/ext4/ialloc.c recently_deleted), so
# creating the V1 product's 1012 files right after deleting the previous run's 1012 spent ~14 % of
# the samples there (perf, by hand). A user's install does not follow a mass deletion.
TRASH=$OUT/trash.$$
RES=$OUT/results.jsonl
TIMEF=$OUT/time.txt
GDL=$ROOT/target/release/galaxy-dl
MOCK=$ROOT/target/release/galaxy-dl-mock
PROF_TARGET=$ROOT/target/bench-prof
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[install-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
# shellcheck source=bench/peer.sh
. "$ROOT/bench/peer.sh"

# ---------------------------------------------------------------- cleanup ----
CLEAN_DIRS=("$DL" "$TRASH")
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fresh_dl: an empty $DL, the previous one moved into $TRASH (see TRASH above), everything
# written back, and (as root) the page cache dropped: this VM reports freed memory to the host
# (virtio-balloon free page reporting: /sys/module/page_reporting/parameters, every free 2 MiB
# block at once), so freed pages can come back cold and the first write to each costs a host
# fault (bench/notes.md, bench/mapped_write.c); moving old installs aside instead of deleting
# them would otherwise leave every run only such pages. Dropped pages are reused by the next run.
fresh_dl() {
    mkdir -p "$TRASH"
    [[ -d $DL ]] && mv "$DL" "$TRASH/$(date +%s%N)"
    mkdir -p "$DL"
    sync
    if [[ -w /proc/sys/vm/drop_caches ]]; then echo 1 >/proc/sys/vm/drop_caches; fi
}


# utime+stime of a process in seconds (all its threads), from /proc/PID/stat fields 14-15.
proc_cpu() {
    awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / tck }' "/proc/$1/stat"
}
# Busy CPU seconds of the whole machine (user+nice+system+irq+softirq) and steal, from /proc/stat.
machine_busy() {
    awk -v tck="$CLK_TCK" '/^cpu / { printf "%.3f", ($2 + $3 + $4 + $7 + $8) / tck }' /proc/stat
}
# Request counters of a mock started with --stats-file, as "key=value ..." -> shell vars S_*.
read_stats() { # file
    local kv
    S_requests=0 S_range_requests=0 S_connections=0 S_body_bytes=0 S_main_bin_requests=0 S_chunk_requests=0
    for kv in $(cat "$1"); do
        printf -v "S_${kv%%=*}" '%s' "${kv#*=}"
    done
}

# ------------------------------------------------------------ preflight ----
for t in cargo curl python3 awk getconf; do command -v "$t" >/dev/null || die "$t not found"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install -y time)"
[[ ${EPOCHREALTIME:-} ]] || die "bash >= 5 needed (EPOCHREALTIME)"

mkdir -p "$OUT"
rm -rf "$DL" "$OUT"/trash.*
: >"$RES"

log "building release binaries (cargo build --release --workspace)"
cargo build --release --workspace >&2 || die "cargo build --release --workspace failed"
[[ -x $GDL && -x $MOCK ]] || die "release binaries missing"
"$GDL" download --help >/dev/null 2>&1 || die "galaxy-dl has no 'download' command"

HAVE_PERF=0
if [[ $SKIP_PERF != 1 ]] && command -v perf >/dev/null && perf record -o "$OUT/perf.probe" -- true >/dev/null 2>&1; then
    HAVE_PERF=1
    # Same release profile, but with symbols, so `perf report` can name functions.
    log "building a symbolized copy for perf (target/bench-prof)"
    CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release -p galaxy-dl --target-dir "$PROF_TARGET" >"$OUT/prof-build.log" 2>&1 ||
        { log "symbolized build failed; skipping perf"; HAVE_PERF=0; }
fi
rm -f "$OUT/perf.probe"

disk_and_load_check
HAVE_PEER=0
PEER_WHY="PEER=0"
PEER_VERSION=
if [[ $PEER != 0 ]]; then
    peer_preflight
    if [[ $HAVE_PEER != 1 ]]; then
        [[ $PEER == 1 ]] && die "peer requested (PEER=1) but not usable: $PEER_WHY"
        log "no lgogdownloader peer: $PEER_WHY"
    fi
fi
jrec kind=meta \
    date="$(date -u)" \
    nproc:="$(nproc)" \
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    kernel="$(uname -srm)" \
    fstype="$FSTYPE" \
    load_start="$LOAD_START" \
    mem_total="$(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')" \
    size_mib:="$SIZE_MIB" game_mib:="$GAME_MIB" rate_mib:="$RATE_MIB" rounds:="$ROUNDS" workers:="$WORKERS" \
    products="$PRODUCTS" peer:="$([[ $HAVE_PEER == 1 ]] && echo true || echo false)" peer_why="$PEER_WHY" \
    v_peer="$PEER_VERSION" peer_threads:="$PEER_THREADS" \
    v_galaxy_dl="$("$GDL" --version 2>&1 | head -n1)" \
    v_rustc="$(rustc --version 2>&1)" \
    repo_commit="$(git describe --always --dirty 2>/dev/null || echo unknown)"


# ----------------------------------------------------------------- runs ----
# run_install scenario product(v2|v1) round mock_name
run_install() {
    local scen=$1 kind=$2 round=$3 mname=$4 workers=${5:-$WORKERS} id dir=$DL/$2 load t0 t1 rc=0
    id=$(product_id "$kind")
    fresh_dl
    sync
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local m0 m1 s0=() s1=()
    read_stats "$OUT/mock-$mname.stats"
    s0=("$S_requests" "$S_main_bin_requests" "$S_chunk_requests" "$S_body_bytes" "$S_connections")
    m0=$(proc_cpu "$MOCK_PID")
    local b0 b1 st0 st1
    st0=$(machine_steal)
    b0=$(machine_busy)
    t0=$EPOCHREALTIME
    RUST_LOG=info /usr/bin/time -f '%U %S %M' -o "$TIMEF" \
        "$GDL" download "$id" --dir "$dir" --workers "$workers" --quiet >"$OUT/gdl.stdout" 2>"$OUT/gdl.stderr" || rc=$?
    t1=$EPOCHREALTIME
    b1=$(machine_busy)
    st1=$(machine_steal)
    m1=$(proc_cpu "$MOCK_PID")
    [[ $rc -eq 0 ]] || die "$scen $kind round $round: galaxy-dl exited $rc: $(tail -n 5 "$OUT/gdl.stderr")"
    sleep 0.2 # let the mock's 50 ms stats writer catch up
    read_stats "$OUT/mock-$mname.stats"
    s1=("$S_requests" "$S_main_bin_requests" "$S_chunk_requests" "$S_body_bytes" "$S_connections")
    local wall user sys maxrss
    wall=$(fsub "$t0" "$t1")
    read -r user sys maxrss < <(tail -n 1 "$TIMEF")
    # What is on disk (the journal directory excluded): bytes, files, small files (<= 32 KiB).
    local bytes files small
    read -r bytes files small < <(find "$dir" -path "$dir/.galaxy-dl" -prune -o -type f -printf '%s\n' |
        awk '{ b += $1; n++; if ($1 <= 32768) s++ } END { printf "%d %d %d\n", b, n, s }')
    [[ $bytes -gt 0 ]] || die "$scen $kind round $round: nothing installed in $dir"
    # galaxy-dl's own count (RUST_LOG=info): "N chunk requests, M main.bin range requests"
    local logline gchunks=null gblobs=null
    logline=$(grep -oE '[0-9]+ chunk requests, [0-9]+ main.bin range requests' "$OUT/gdl.stderr" | tail -n1 || true)
    if [[ $logline ]]; then
        read -r gchunks _ _ gblobs _ < <(echo "$logline" | tr ',' ' ')
    fi
    # galaxy-dl's summary: "..., 326.7 MiB downloaded, ..." = the bytes the install needed (a
    # chunk finished by a helper's Range request counts once; the mock's body bytes also count
    # what it pushed into a connection that was dropped at the split point).
    local needed
    needed=$(grep -oE '[0-9.]+ (B|KiB|MiB|GiB) downloaded' "$OUT/gdl.stdout" | tail -n1 |
        awk '{ m = ($2 == "GiB") ? 1073741824 : ($2 == "MiB") ? 1048576 : ($2 == "KiB") ? 1024 : 1; printf "%d", $1 * m }')
    [[ $needed ]] || needed=null
    jrec kind=install tool=galaxy-dl scenario="$scen" product="$kind" id="$id" round:="$round" workers:="$workers" \
        needed_bytes:="$needed" \
        wall_s:="$wall" user_s:="$user" sys_s:="$sys" maxrss_kib:="$maxrss" \
        mock_cpu_s:="$(fsub "$m0" "$m1")" machine_busy_s:="$(fsub "$b0" "$b1")" steal_s:="$(fsub "$st0" "$st1")" load="$load" \
        bytes:="$bytes" files:="$files" small_files:="$small" \
        mock_requests:="$((s1[0] - s0[0]))" mock_main_bin_requests:="$((s1[1] - s0[1]))" \
        mock_chunk_requests:="$((s1[2] - s0[2]))" mock_body_bytes:="$((s1[3] - s0[3]))" \
        mock_connections:="$((s1[4] - s0[4]))" log_chunk_requests:="$gchunks" log_main_bin_requests:="$gblobs"
    log "$scen $kind round $round: $(awk -v b="$bytes" -v t="$wall" 'BEGIN{printf "%.1f MiB in %.3f s = %.1f MiB/s", b/1048576, t, b/1048576/t}')," \
        "galaxy-dl cpu ${user}u ${sys}s, mock cpu $(fsub "$m0" "$m1")s, machine busy $(fsub "$b0" "$b1")s, requests: mock main.bin $((s1[1] - s0[1]))" \
        "chunk $((s1[2] - s0[2])) (log: ${logline:-none}), files $files ($small small), load $load"
    fresh_dl
}

product_id() { # v2|v1|game-v2|game-v1
    case $1 in
    v2) echo "$V2_ID" ;; v1) echo "$V1_ID" ;; game-v2) echo "$GAME_V2_ID" ;; game-v1) echo "$GAME_V1_ID" ;;
    *) die "unknown product $1" ;;
    esac
}

# run_rounds SCENARIO MOCK_NAME: ROUNDS rounds of every (tool, product) pair, the order
# rotated by one each round so that no tool or product always runs first.
run_rounds() {
    local scen=$1 mname=$2 r i n runs=()
    for k in $PRODUCTS; do runs+=("galaxy-dl:$k"); done
    if [[ $HAVE_PEER == 1 && " $PRODUCTS " == *" game-v2 "* ]]; then
        runs+=("lgogdownloader:game-v2")
        # galaxy-dl with as many connections as lgogdownloader's threads, for a like-for-like row.
        [[ $EQUAL_WORKERS == 1 && $PEER_THREADS != "$WORKERS" ]] && runs+=("galaxy-dl-equal:game-v2")
    fi
    n=${#runs[@]}
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            local run=${runs[$(((i + r - 1) % n))]}
            case $run in
            lgogdownloader:*) run_peer "$scen" "$r" "$mname" ;;
            galaxy-dl:*) run_install "$scen" "${run#galaxy-dl:}" "$r" "$mname" ;;
            galaxy-dl-equal:*) run_install "$scen" "${run#galaxy-dl-equal:}" "$r" "$mname" "$PEER_THREADS" ;;
            esac
        done
    done
}

# peak RssAnon of one install (separate run: sampling costs CPU)
rss_install() { # kind mname
    local kind=$1 id dir=$DL/$1
    [[ $kind == v2 ]] && id=$V2_ID || id=$V1_ID
    fresh_dl
    sync
    python3 bench/peak_rss.py "$OUT/rss.txt" "$GDL" download "$id" --dir "$dir" --workers "$RSS_WORKERS" --quiet \
        >/dev/null 2>"$OUT/gdl.stderr" || die "rss run of $kind failed: $(tail -n 5 "$OUT/gdl.stderr")"
    read -r anon file shmem samples <"$OUT/rss.txt"
    jrec kind=rss product="$kind" workers:="$RSS_WORKERS" anon_kib:="$anon" file_kib:="$file" shmem_kib:="$shmem" samples:="$samples"
    log "rss $kind: peak RssAnon $(awk -v k="$anon" 'BEGIN{printf "%.1f", k/1024}') MiB ($samples samples)"
    fresh_dl
}

# --------------------------------------------------------- uncapped ----
GAME_ARGS=()
[[ " $PRODUCTS " == *" game-"* ]] && GAME_ARGS=(--bench-game-v2 "${GAME_MIB}M" --bench-game-v1 "${GAME_MIB}M")
# The easy products only when asked for (the mock generates every product at start).
[[ " $PRODUCTS " == *" v2 "* ]] && GAME_ARGS+=(--bench-v2 "${SIZE_MIB}M")
[[ " $PRODUCTS " == *" v1 "* ]] && GAME_ARGS+=(--bench-v1 "${SIZE_MIB}M")
HAVE_EASY=0
[[ " $PRODUCTS " == *" v2 "* && " $PRODUCTS " == *" v1 "* ]] && HAVE_EASY=1
start_mock uncapped "${GAME_ARGS[@]}" --stats-file "$OUT/mock-uncapped.stats"
use_mock_env uncapped
login
sleep 0.2
[[ -f $OUT/mock-uncapped.stats ]] || die "mock wrote no stats file"
if [[ $HAVE_PEER == 1 ]]; then
    peer_start uncapped
    [[ " $PRODUCTS " == *" game-v1 "* ]] && peer_v1_probe
fi

run_rounds uncapped uncapped

if [[ $SKIP_RSS != 1 && $HAVE_EASY == 1 ]]; then
    rss_install v2 uncapped
    rss_install v1 uncapped
fi

if [[ $HAVE_PERF == 1 && $HAVE_EASY == 1 ]]; then
    log "perf record -g of one uncapped V2 install (symbolized build)"
    fresh_dl && sync
    perf record -g -F 999 -o "$OUT/perf.data" -- "$PROF_TARGET/release/galaxy-dl" download "$V2_ID" \
        --dir "$DL/v2" --workers "$WORKERS" --quiet >/dev/null 2>"$OUT/perf-record.log" ||
        die "perf record run failed: $(tail -n 5 "$OUT/perf-record.log")"
    perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 25 >"$OUT/perf-symbols.txt" || true
    perf report -i "$OUT/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 10 >"$OUT/perf-dso.txt" || true
    python3 - "$OUT/perf-symbols.txt" "$OUT/perf-dso.txt" >>"$RES" <<'PY'
import json, re, sys
def rows(p):
    out = []
    for line in open(p):
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].endswith("%"):
            # drop perf's empty trailing columns ("-  -")
            out.append([float(parts[0][:-1]), re.sub(r"(\s+-)+\s*$", "", parts[1].strip())])
    return out
print(json.dumps({"kind": "perf", "symbols": rows(sys.argv[1]), "dsos": rows(sys.argv[2])}))
PY
    fresh_dl
fi
peer_stop
stop_mock

# ----------------------------------------------------------- capped ----
if [[ $SKIP_CAPPED != 1 ]]; then
    RATE_BPS=$((RATE_MIB * 1048576))
    CHECK_MIB=$((SIZE_MIB < 100 ? SIZE_MIB : 100))
    # Pacing check: one curl connection to a --pace'd blob server must run at the cap (+-5%).
    start_mock pacecheck --blob "${CHECK_MIB}M" --pace "$RATE_BPS"
    URL=$(grep -oE 'http://[^ ]+' "$OUT/mock-pacecheck.out" | head -n1)
    read -r spd tt < <(curl -s -o /dev/null -w '%{speed_download} %{time_total}\n' "$URL")
    stop_mock
    ratio=$(awk -v s="$spd" -v r="$RATE_BPS" 'BEGIN { printf "%.4f", s / r }')
    ok=$(awk -v x="$ratio" 'BEGIN { print (x >= 0.95 && x <= 1.05) ? "true" : "false" }')
    jrec kind=pacing check_mib:="$CHECK_MIB" cap_bps:="$RATE_BPS" speed_bps:="$spd" time_s:="$tt" ratio:="$ratio" ok:="$ok"
    log "pacing check: 1 curl connection, $CHECK_MIB MiB: $(awk -v s="$spd" 'BEGIN{printf "%.2f", s/1048576}') MiB/s = $ratio x cap -> $([[ $ok == true ]] && echo OK || echo FAIL)"
    [[ $ok == true ]] || die "per-connection pacing cap not in force (ratio $ratio, need 0.95..1.05)"

    start_mock capped "${GAME_ARGS[@]}" --pace "$RATE_BPS" \
        --stats-file "$OUT/mock-capped.stats"
    use_mock_env capped
    login
    sleep 0.2
    [[ $HAVE_PEER == 1 ]] && peer_start capped
    run_rounds capped capped
    if [[ " $PRODUCTS " == *" game-v1 "* ]]; then
        for ((r = ROUNDS + 1; r <= CAPPED_ROUNDS_GAME_V1; r++)); do
            run_install capped game-v1 "$r" capped
        done
    fi
    peer_stop
    stop_mock
fi

# ------------------------------------------------------ micro: inflate, md5 ----
if [[ $SKIP_MICRO != 1 ]]; then
    log "building bench/inflate for both flate2 backends"
    (cd bench/inflate &&
        cargo build --release --features zlib-rs --target-dir target/zlib-rs >"$OUT/inflate-build.log" 2>&1 &&
        cargo build --release --features rust_backend --target-dir target/miniz >>"$OUT/inflate-build.log" 2>&1) ||
        die "bench/inflate build failed (see $OUT/inflate-build.log)"
    ZB=bench/inflate/target/zlib-rs/release/inflate-bench
    MB=bench/inflate/target/miniz/release/inflate-bench
    for ((rep = 1; rep <= MICRO_ROUNDS; rep++)); do
        for b in "$ZB" "$MB"; do
            l=$(cut -d' ' -f1-3 /proc/loadavg)
            "$b" | python3 -c 'import json,sys
for line in sys.stdin:
    o = json.loads(line); o["rep"] = int(sys.argv[1]); o["load"] = sys.argv[2]; print(json.dumps(o))' "$rep" "$l" >>"$RES"
        done
        l=$(cut -d' ' -f1-3 /proc/loadavg)
        ONLY_MD5=1 "$ZB" | python3 -c 'import json,sys
for line in sys.stdin:
    o = json.loads(line); o["backend"] = "-"; o["rep"] = int(sys.argv[1]); o["load"] = sys.argv[2]; print(json.dumps(o))' "$rep" "$l" >>"$RES"
    done
    grep '"micro"' "$RES" | python3 -c 'import json,sys
for l in sys.stdin:
    o = json.loads(l); print("  %-48s %-28s %7.1f MB/s median (best %.1f)" % (o["what"], o["backend"], o["median_mb_s"], o["best_mb_s"]))' >&2
fi

jrec kind=end load_end="$(cut -d' ' -f1-3 /proc/loadavg)" date_end="$(date -u)"

# --------------------------------------------------------------- report ----
python3 bench/install_report.py "$RES" "$REPORT"
log "wrote the install section of $REPORT (raw results: $RES)"
