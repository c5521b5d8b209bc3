#!/usr/bin/env bash
# One benchmark run for every issue-13 figure, on the game-like products of the mock
# (1000000021 "Bench Game" V2 and its V1 twin 1000000022), then BENCHMARKS.md and the README
# table are rewritten from the raw results (bench/all_report.py). Not part of CI.
#
#   bash bench/all.sh                         # full run: GAME_MIB=512, ROUNDS=5
#   GAME_MIB=64 ROUNDS=1 bash bench/all.sh    # harness check (figures meaningless)
#
# Steps (each records date, commit, 1-min load average before every run; tools rotated per round):
#   1. bench/install.sh: galaxy-dl `download` (WORKERS=8) and lgogdownloader (bench/peer.sh) on
#      the game V2 product, galaxy-dl on the V1 twin; uncapped, then paced (mock --pace RATE_MIB
#      per TCP connection); paced V1 runs go on alone to V1_PACED_ROUNDS (10).
#   2. the V1 twin's main.bin is dumped once from the mock into bench/out/all/ and served by nginx
#      (bench/run.sh): `get --md5` vs `curl -o F && md5sum F` uncapped, `get` vs the Python
#      galaxy_dl blob downloader (4 threads, no MD5) uncapped, `get` vs `aria2c -x8` paced.
#   3. bench/run.sh builds the static musl release binary and records its size.
#   4. bench/all_report.py writes BENCHMARKS.md (REPORT) and the README table between markers.
#
# Env: GAME_MIB=512 ROUNDS=5 V1_PACED_ROUNDS=10 RATE_MIB=20 WORKERS=8 PEER=auto|0|1
#      PEER_THREADS=4 GD_THREADS=4 SKIP_MUSL=1 REPORT=BENCHMARKS.md README=README.md (none: leave it)
#      RESULTS_DIR=bench/results (where the raw latest-*.jsonl go; a harness check should say bench/out/...)
#      GALAXY_DL_PY=path: the Python galaxy_dl library (Dimensional/galaxyDL-Python), either a
#        checkout (a directory with galaxy_dl/) or a bare git mirror (exported with git archive
#        into bench/out/all/gd, never into the repo). Unset or absent: that comparison prints SKIP.
# Everything goes to 127.0.0.1 only. Work files: bench/out/ (gitignored).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export GAME_MIB=${GAME_MIB:-512}
export ROUNDS=${ROUNDS:-5}
V1_PACED_ROUNDS=${V1_PACED_ROUNDS:-10}
export RATE_MIB=${RATE_MIB:-20}
export WORKERS=${WORKERS:-8}
export PEER=${PEER:-auto}
export PEER_THREADS=${PEER_THREADS:-4}
export GD_THREADS=${GD_THREADS:-4}
SKIP_MUSL=${SKIP_MUSL:-0}
REPORT=${REPORT:-BENCHMARKS.md}
README=${README:-README.md}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
GALAXY_DL_PY=${GALAXY_DL_PY:-}

OUT=$ROOT/bench/out/all
MOCK=$ROOT/target/release/galaxy-dl-mock
GDL=$ROOT/target/release/galaxy-dl
RES=$OUT/all.jsonl
CLK_TCK=$(getconf CLK_TCK)
T0=$EPOCHREALTIME

log() { printf '[all-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
: >"$RES"

# ------------------------------------------------------------ preflight ----
need=()
for pair in lgogdownloader:lgogdownloader nginx:nginx-light aria2c:aria2 xdelta3:xdelta3 curl:curl openssl:openssl; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
[[ -x /usr/bin/time ]] || need+=(time)
[[ $SKIP_MUSL == 1 ]] || command -v musl-gcc >/dev/null || need+=(musl-tools) # ring's C code, as in .ci/run
if ((${#need[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing ${need[*]} (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >"$OUT/apt.log" 2>&1 ||
            log "apt-get install failed (see $OUT/apt.log); the steps that need them will say so"
    else
        log "missing ${need[*]} and not root: the steps that need them will say so"
    fi
fi
disk_and_load_check
jrec kind=meta date="$(date -u)" load_start="$LOAD_START" \
    machine="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}'), $(uname -sr)" \
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    dirty:="$([[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && echo true || echo false)" \
    game_mib:="$GAME_MIB" rounds:="$ROUNDS" v1_paced_rounds:="$V1_PACED_ROUNDS" rate_mib:="$RATE_MIB" workers:="$WORKERS" \
    peer_threads:="$PEER_THREADS" gd_threads:="$GD_THREADS"

# ----------------------------------------------------- 1. installs ----
log "step 1: installs (bench/install.sh, game products, $ROUNDS rounds, paced V1 to $V1_PACED_ROUNDS)"
PRODUCTS="game-v2 game-v1" SIZE_MIB=$GAME_MIB EQUAL_WORKERS=0 \
    CAPPED_ROUNDS_GAME_V1=$V1_PACED_ROUNDS SKIP_MICRO=1 SKIP_PERF=1 SKIP_RSS=1 \
    REPORT=bench/out/all/install.md bash bench/install.sh
cp bench/out/install/results.jsonl "$OUT/install.jsonl"

# ------------------------------------------- 2. main.bin from the mock ----
MAINBIN=$OUT/main.bin
log "step 2: dumping the game V1 main.bin from the mock (--bench-game-v1 ${GAME_MIB}M)"
start_mock dump --bench-game-v1 "${GAME_MIB}M"
use_mock_env dump
# The mock's CDN wants a signed URL: token -> secure link (V1 depot path) -> main.bin.
tok=$(curl -sS --fail "$GALAXY_DL_AUTH_URL/token?grant_type=authorization_code&code=fixture-login-code&client_id=x&client_secret=y&redirect_uri=z" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') || die "mock token request failed"
url=$(curl -sS --fail -H "Authorization: Bearer $tok" \
    "$GALAXY_DL_CONTENT_SYSTEM_URL/products/1000000022/secure_link?type=depot&path=/windows/1600000022/" |
    python3 -c 'import json,sys
u = json.load(sys.stdin)["urls"][0]
s = u["url_format"]
for k, v in u["parameters"].items():
    s = s.replace("{" + k + "}", str(v))
print(s + "/main.bin")') || die "mock secure link request failed"
curl -sS --fail -o "$MAINBIN" "$url" || die "could not fetch main.bin from the mock ($url)"
stop_mock
log "main.bin: $(stat -c %s "$MAINBIN") bytes"

# ------------------------------------------------ the Python galaxy_dl ----
UT="curl galaxy-dl galaxy-dl-nomd5"
GD_DIR=
if [[ -z $GALAXY_DL_PY ]]; then
    log "SKIP gd: GALAXY_DL_PY is not set (a checkout or git mirror of Dimensional/galaxyDL-Python)"
    jrec kind=gd status=skip why="GALAXY_DL_PY not set"
elif [[ -d $GALAXY_DL_PY/galaxy_dl ]]; then
    GD_DIR=$GALAXY_DL_PY
elif git --git-dir="$GALAXY_DL_PY" rev-parse HEAD >/dev/null 2>&1; then
    GD_DIR=$OUT/gd
    rm -rf "$GD_DIR" && mkdir -p "$GD_DIR"
    git --git-dir="$GALAXY_DL_PY" archive HEAD | tar -x -C "$GD_DIR"
else
    log "SKIP gd: GALAXY_DL_PY=$GALAXY_DL_PY is neither a checkout (galaxy_dl/) nor a git directory"
    jrec kind=gd status=skip why="GALAXY_DL_PY=$GALAXY_DL_PY unusable"
fi
GD_PYTHON=python3
if [[ $GD_DIR ]]; then
    if ! PYTHONPATH=$GD_DIR python3 -c 'import galaxy_dl.downloader' 2>"$OUT/gd-import.log"; then
        log "galaxy_dl does not import with the system python; trying a venv with its requirements"
        python3 -m venv "$OUT/gd-venv" >&2 && "$OUT/gd-venv/bin/pip" install -q -r "$GD_DIR/requirements.txt" >&2 &&
            GD_PYTHON=$OUT/gd-venv/bin/python3
    fi
    if PYTHONPATH=$GD_DIR "$GD_PYTHON" -c 'import galaxy_dl.downloader' 2>>"$OUT/gd-import.log"; then
        UT+=" gd"
        gd_commit=$(git --git-dir="$GALAXY_DL_PY" rev-parse --short HEAD 2>/dev/null || git -C "$GD_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
        jrec kind=gd status=ok commit="$gd_commit" python="$("$GD_PYTHON" --version 2>&1)" \
            requests="$(PYTHONPATH=$GD_DIR "$GD_PYTHON" -c 'import requests; print(requests.__version__)')"
    else
        log "SKIP gd: galaxy_dl does not import: $(tail -n 2 "$OUT/gd-import.log")"
        jrec kind=gd status=skip why="import failed: $(tail -n 1 "$OUT/gd-import.log")"
    fi
fi

# ---------------------------------------------- 3. get on main.bin ----
log "step 3: get on main.bin (bench/run.sh; uncapped: $UT; paced: aria2c galaxy-dl)"
SRC_FILE=$MAINBIN SKIP_RSS=1 SKIP_MUSL=$SKIP_MUSL CAPPED_TOOLS="aria2c galaxy-dl" UNCAPPED_TOOLS="$UT" \
    GD_DIR=$GD_DIR GD_PYTHON=$GD_PYTHON REPORT=bench/out/all/get.md bash bench/run.sh
cp bench/out/results.jsonl "$OUT/get.jsonl"
rm -f "$MAINBIN"

jrec kind=end date_end="$(date -u)" load_end="$(cut -d' ' -f1-3 /proc/loadavg)" \
    wall_s:="$(fsub "$T0" "$EPOCHREALTIME")"

# ----------------------------------------------------------- 4. report ----
mkdir -p "$RESULTS_DIR"
cp "$RES" "$RESULTS_DIR/latest-all.jsonl"
cp "$OUT/install.jsonl" "$RESULTS_DIR/latest-install.jsonl"
cp "$OUT/get.jsonl" "$RESULTS_DIR/latest-get.jsonl"
python3 bench/all_report.py "$RESULTS_DIR" "$REPORT" "$README"
log "wrote $REPORT$([[ $README != none ]] && echo " and the table in $README") in $(fsub "$T0" "$EPOCHREALTIME") s" \
    "(raw: $RESULTS_DIR/latest-*.jsonl; re-render: python3 bench/all_report.py $RESULTS_DIR $REPORT $README)"
