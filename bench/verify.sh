#!/usr/bin/env bash
# galaxy-dl verify benchmark: `galaxy-dl verify` against md5sum over the same installed files.
# Not part of CI. Run from anywhere: bash bench/verify.sh   (see bench/README.md)
#
#   1000000004 "Bench V2": 4 files, 10 MiB chunks (every chunk is one MD5 stream for verify)
#   1000000005 "Bench V1": ~1000 small files (1-32 KiB) + up to 8 large files (one stream each)
#   1000000021 "Bench Game" / 1000000022 its V1 twin: 298 / 302 files from 1 KiB to ~108 MiB
#              (game-like long-tailed mix, mock/src/gog/game.rs)
#
# Both are installed once from galaxy-dl-mock, the mock is stopped, then ROUNDS interleaved
# rounds with the page cache warm, per product (order alternates per round; tools rotate):
#   md5sum          find DIR -type f -not -path '*/.galaxy-dl/*' -print0 | xargs -0 md5sum
#   md5sum-cpu0     the same, md5sum pinned to CPU 0 (like the 1-worker verify)
#   md5sum-x2       the same, split in two halves run by two md5sum processes (xargs -P2)
#   verify-1        taskset -c 0 galaxy-dl verify DIR --workers 1
#   verify-2        galaxy-dl verify DIR --workers 2
# plus COLD_ROUNDS rounds with the files' pages evicted first (fadvise DONTNEED after sync).
#
# Env: SIZE_MIB=512 GAME_MIB=$SIZE_MIB PRODUCTS="v2 v1 game-v2 game-v1" ROUNDS=5 COLD_ROUNDS=2 (0 = skip)
#      REPORT=BENCHMARKS.md (section replaced in place)
# Everything goes to 127.0.0.1 only. Work files: bench/out/verify/ (gitignored, same fs as repo).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZE_MIB=${SIZE_MIB:-512}
GAME_MIB=${GAME_MIB:-$SIZE_MIB}
PRODUCTS=${PRODUCTS:-v2 v1 game-v2 game-v1}
ROUNDS=${ROUNDS:-5}
COLD_ROUNDS=${COLD_ROUNDS:-2}
REPORT=${REPORT:-BENCHMARKS.md}
V2_ID=1000000004
V1_ID=1000000005
GAME_V2_ID=1000000021
GAME_V1_ID=1000000022
INSTALL_WORKERS=8

OUT=$ROOT/bench/out/verify
DL=$OUT/dl
RES=$OUT/results.jsonl
TIMEF=$OUT/time.txt
GDL=$ROOT/target/release/galaxy-dl
MOCK=$ROOT/target/release/galaxy-dl-mock
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[verify-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup ----
CLEAN_DIRS=("$DL")
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ------------------------------------------------------------ preflight ----
for t in cargo curl python3 awk getconf md5sum taskset xargs find; do command -v "$t" >/dev/null || die "$t not found"; done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install -y time)"
[[ ${EPOCHREALTIME:-} ]] || die "bash >= 5 needed (EPOCHREALTIME)"

mkdir -p "$OUT"
rm -rf "$DL"
: >"$RES"

log "building release binaries (cargo build --release --workspace)"
cargo build --release --workspace >&2 || die "cargo build --release --workspace failed"
[[ -x $GDL && -x $MOCK ]] || die "release binaries missing"
"$GDL" verify --help 2>/dev/null | grep -q -- '--workers' || die "this galaxy-dl has no 'verify --workers'"

disk_and_load_check
jrec kind=meta \
    date="$(date -u)" \
    nproc:="$(nproc)" \
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    cpu_flags="$(grep -m1 '^flags' /proc/cpuinfo | grep -oE 'avx512(f|vl)' | sort -u | tr '\n' ' ' | sed 's/ $//')" \
    kernel="$(uname -srm)" \
    fstype="$FSTYPE" \
    load_start="$LOAD_START" \
    mem_total="$(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')" \
    size_mib:="$SIZE_MIB" game_mib:="$GAME_MIB" products="$PRODUCTS" rounds:="$ROUNDS" cold_rounds:="$COLD_ROUNDS" \
    v_galaxy_dl="$("$GDL" --version 2>&1 | head -n1)" \
    v_md5sum="$(md5sum --version 2>&1 | head -n1)" \
    v_rustc="$(rustc --version 2>&1)" \
    repo_commit="$(git describe --always --dirty 2>/dev/null || echo unknown)"


# -------------------------------------------------------------- install ----
GAME_ARGS=()
[[ " $PRODUCTS " == *" game-"* ]] && GAME_ARGS=(--bench-game-v2 "${GAME_MIB}M" --bench-game-v1 "${GAME_MIB}M")
start_mock bench --bench-v2 "${SIZE_MIB}M" --bench-v1 "${SIZE_MIB}M" "${GAME_ARGS[@]}"
use_mock_env bench
login
mkdir -p "$DL"
for k in $PRODUCTS; do
    case $k in
    v2) id=$V2_ID ;; v1) id=$V1_ID ;; game-v2) id=$GAME_V2_ID ;; game-v1) id=$GAME_V1_ID ;;
    *) die "unknown product $k" ;;
    esac
    log "installing $id into $DL/$k"
    "$GDL" download "$id" --dir "$DL/$k" --workers "$INSTALL_WORKERS" --quiet >"$OUT/install-$k.out" 2>&1 ||
        die "install of $id failed: $(tail -n 5 "$OUT/install-$k.out")"
done
stop_mock # verify needs no network; the idle mock would only hold memory
sync

declare -A NFILES BYTES
for k in $PRODUCTS; do
    find "$DL/$k" -type f -not -path '*/.galaxy-dl/*' -print0 >"$OUT/files-$k"
    read -r BYTES[$k] NFILES[$k] < <(find "$DL/$k" -type f -not -path '*/.galaxy-dl/*' -printf '%s\n' |
        awk '{ b += $1; n++ } END { printf "%d %d\n", b, n }')
    [[ ${BYTES[$k]} -gt 0 ]] || die "nothing installed in $DL/$k"
    jrec kind=product product="$k" files:="${NFILES[$k]}" bytes:="${BYTES[$k]}"
done

# ----------------------------------------------------------------- runs ----
# The measured commands. Each reads the file list of product $1 (md5sum) or its dir (verify).
cmd_md5sum() { find "$DL/$1" -type f -not -path '*/.galaxy-dl/*' -print0 | /usr/bin/time -f '%U %S' -o "$TIMEF" xargs -0 md5sum; }
cmd_md5sum_cpu0() { find "$DL/$1" -type f -not -path '*/.galaxy-dl/*' -print0 | /usr/bin/time -f '%U %S' -o "$TIMEF" taskset -c 0 xargs -0 md5sum; }
cmd_md5sum_x2() {
    local half=$(((NFILES[$1] + 1) / 2))
    find "$DL/$1" -type f -not -path '*/.galaxy-dl/*' -print0 | /usr/bin/time -f '%U %S' -o "$TIMEF" xargs -0 -P2 -n "$half" md5sum
}
cmd_verify_1() { /usr/bin/time -f '%U %S' -o "$TIMEF" taskset -c 0 "$GDL" verify "$DL/$1" --workers 1 --quiet; }
cmd_verify_2() { /usr/bin/time -f '%U %S' -o "$TIMEF" "$GDL" verify "$DL/$1" --workers 2 --quiet; }
TOOLS=(md5sum md5sum-cpu0 md5sum-x2 verify-1 verify-2)
COLD_TOOLS=(md5sum-cpu0 verify-1 verify-2)

# Drop the product's pages from the page cache (they are clean after the sync above).
evict() {
    python3 - "$OUT/files-$1" <<'PY'
import os, sys
for p in open(sys.argv[1], "rb").read().split(b"\0"):
    if p:
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

# run_one tool product round cache(warm|cold)
run_one() {
    local tool=$1 k=$2 round=$3 cache=$4 load t0 t1 st0 st1 rc=0 user sys wall
    [[ $cache == cold ]] && evict "$k"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    st0=$(machine_steal)
    t0=$EPOCHREALTIME
    "cmd_${tool//-/_}" "$k" >"$OUT/run.stdout" 2>"$OUT/run.stderr" || rc=$?
    t1=$EPOCHREALTIME
    st1=$(machine_steal)
    [[ $rc -eq 0 ]] || die "$tool $k round $round: exit $rc: $(tail -n 5 "$OUT/run.stderr") $(tail -n 5 "$OUT/run.stdout")"
    case $tool in
    md5sum*) [[ $(grep -c . "$OUT/run.stdout") -eq ${NFILES[$k]} ]] || die "$tool $k: not one line per file" ;;
    verify*) grep -q "^${NFILES[$k]} files, 0 bad" "$OUT/run.stdout" || die "$tool $k: not clean: $(cat "$OUT/run.stdout")" ;;
    esac
    wall=$(fsub "$t0" "$t1")
    read -r user sys < <(tail -n 1 "$TIMEF")
    jrec kind=run tool="$tool" product="$k" round:="$round" cache="$cache" wall_s:="$wall" user_s:="$user" \
        sys_s:="$sys" steal_s:="$(fsub "$st0" "$st1")" load="$load" bytes:="${BYTES[$k]}" files:="${NFILES[$k]}"
    log "$cache $k round $round: $tool $(awk -v b="${BYTES[$k]}" -v t="$wall" 'BEGIN{printf "%.3f s = %.0f MiB/s", t, b/1048576/t}'), cpu ${user}u ${sys}s, load $load"
}

# Warm-up (untimed): every file in the page cache, binaries loaded.
for k in $PRODUCTS; do
    cmd_md5sum "$k" >/dev/null
    cmd_verify_2 "$k" >/dev/null
done

for ((r = 1; r <= ROUNDS; r++)); do
    order=($PRODUCTS)
    # rotate the products by one each round
    order=("${order[@]:$(((r - 1) % ${#order[@]}))}" "${order[@]:0:$(((r - 1) % ${#order[@]}))}")
    # rotate the tools so that none always runs first or after the same one
    n=${#TOOLS[@]}
    for k in "${order[@]}"; do
        for ((i = 0; i < n; i++)); do run_one "${TOOLS[$(((i + r) % n))]}" "$k" "$r" warm; done
    done
done

for ((r = 1; r <= COLD_ROUNDS; r++)); do
    order=($PRODUCTS)
    # rotate the products by one each round
    order=("${order[@]:$(((r - 1) % ${#order[@]}))}" "${order[@]:0:$(((r - 1) % ${#order[@]}))}")
    n=${#COLD_TOOLS[@]}
    for k in "${order[@]}"; do
        for ((i = 0; i < n; i++)); do run_one "${COLD_TOOLS[$(((i + r) % n))]}" "$k" "$r" cold; done
    done
done

jrec kind=end load_end="$(cut -d' ' -f1-3 /proc/loadavg)" date_end="$(date -u)"

# --------------------------------------------------------------- report ----
python3 bench/verify_report.py "$RES" "$REPORT"
log "wrote the verify section of $REPORT (raw results: $RES)"
