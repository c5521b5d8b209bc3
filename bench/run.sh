#!/usr/bin/env bash
# galaxy-dl benchmark harness: galaxy-dl vs curl and aria2c against local nginx.
# Not part of CI. Run from the repo root: bash bench/run.sh   (see bench/README.md)
#
# Env: SIZE_MIB=512 RATE_MIB=20 ROUNDS=3 WORKERS=8 BIG_MIB=2048
#      GALAXY_DL=target/release/galaxy-dl  (built if missing; "skip" omits galaxy-dl)
#      SKIP_CAPPED=1 SKIP_UNCAPPED=1 SKIP_RSS=1 SKIP_MUSL=1 KEEP_SRC=1
#      MUSL_BIN=path (use a prebuilt musl binary instead of building)
#      SRC_FILE=path (serve this file instead of a generated one; SIZE_MIB is then its size)
#      CAPPED_TOOLS="curl aria2c galaxy-dl" UNCAPPED_TOOLS="curl aria2c galaxy-dl"
#        (also: galaxy-dl-nomd5 = `get` without --md5; gd = the Python galaxy_dl blob downloader,
#        needs GD_DIR=a checkout of Dimensional/galaxyDL-Python, GD_THREADS=4; see bench/all.sh)
#      REPORT=BENCHMARKS.md (where the report goes; relative to repo root)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SIZE_MIB=${SIZE_MIB:-512}
RATE_MIB=${RATE_MIB:-20}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-8}
BIG_MIB=${BIG_MIB:-2048}
GALAXY_DL=${GALAXY_DL:-target/release/galaxy-dl}
SKIP_CAPPED=${SKIP_CAPPED:-0}
SKIP_UNCAPPED=${SKIP_UNCAPPED:-0}
SKIP_RSS=${SKIP_RSS:-0}
SKIP_MUSL=${SKIP_MUSL:-0}
KEEP_SRC=${KEEP_SRC:-0}
MUSL_BIN=${MUSL_BIN:-}
SRC_FILE=${SRC_FILE:-}
CAPPED_TOOLS=${CAPPED_TOOLS:-curl aria2c galaxy-dl}
UNCAPPED_TOOLS=${UNCAPPED_TOOLS:-curl aria2c galaxy-dl}
GD_DIR=${GD_DIR:-}
GD_THREADS=${GD_THREADS:-4}
GD_PYTHON=${GD_PYTHON:-python3}
REPORT=${REPORT:-BENCHMARKS.md}
MUSL_TARGET=x86_64-unknown-linux-musl
RSS_WORKERS=8
ARIA_RSS_X=4

OUT=$ROOT/bench/out
WWW=$OUT/www
DL=$OUT/dl
RES=$OUT/results.jsonl
TIMEF=$OUT/time.txt
SRC_NAME=src-${SIZE_MIB}MiB.bin
SRC_BYTES=$((SIZE_MIB * 1048576))
if [[ $SRC_FILE ]]; then
    [[ -f $SRC_FILE ]] || { echo "SRC_FILE=$SRC_FILE: no such file" >&2; exit 1; }
    SRC_NAME=$(basename "$SRC_FILE")
    SRC_BYTES=$(stat -c %s "$SRC_FILE")
    SIZE_MIB=$((SRC_BYTES / 1048576)) # whole MiB, for the pacing check and the log lines
fi
BIG_NAME=big-${BIG_MIB}MiB.bin

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------- cleanup ----
NGINX_PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${NGINX_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${NGINX_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$DL"
    if [[ $KEEP_SRC != 1 ]]; then
        rm -f "$WWW"/*.bin "$WWW"/*.bin.md5
    fi
    if [[ $rc -ne 0 ]]; then
        log "exited with status $rc (nginx stopped, big files removed)"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------- json lines ----
# jrec and fsub come from bench/lib.sh (sourced above).
fadd() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a + b }'; }

# timed CMD... : runs CMD, sets T_WALL (EPOCHREALTIME), T_USER, T_SYS (/usr/bin/time,
# includes all waited-for descendants). Returns CMD's status.
timed() {
    local t0 t1 rc=0
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%U %S' -o "$TIMEF" "$@" || rc=$?
    t1=$EPOCHREALTIME
    T_WALL=$(fsub "$t0" "$t1")
    read -r T_USER T_SYS < <(tail -n 1 "$TIMEF")
    return "$rc"
}

md5_of() { md5sum "$1" | cut -d' ' -f1; }

check_md5() { # file expected label
    local got
    [[ -f $1 ]] || die "no output file after $3: $1"
    got=$(md5_of "$1") || die "md5sum of $1 failed ($3)"
    if [[ $got != "$2" ]]; then
        die "MD5 MISMATCH for $3: got $got, expected $2 ($1)"
    fi
}

# ------------------------------------------------------------ preflight ----
for t in nginx aria2c curl python3 openssl md5sum awk; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install -y nginx-light aria2 curl python3 openssl)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install -y time)"
[[ ${EPOCHREALTIME:-} ]] || die "bash >= 5 needed (EPOCHREALTIME)"

HAVE_GDL=1
if [[ $GALAXY_DL == skip ]]; then
    HAVE_GDL=0
    log "GALAXY_DL=skip: measuring curl and aria2c only"
else
    if [[ ! -x $GALAXY_DL ]]; then
        if [[ $GALAXY_DL == target/release/galaxy-dl ]]; then
            log "building galaxy-dl (cargo build --release)"
            cargo build --release >&2 || die "cargo build --release failed"
        fi
        [[ -x $GALAXY_DL ]] || die "galaxy-dl binary not found at $GALAXY_DL (set GALAXY_DL=path or GALAXY_DL=skip)"
    fi
    GALAXY_DL=$(cd "$(dirname "$GALAXY_DL")" && pwd)/$(basename "$GALAXY_DL")
    # A stub binary may exit 0 for anything: require help text that mentions --md5.
    GET_HELP=$("$GALAXY_DL" get --help 2>&1) || die "'$GALAXY_DL get --help' fails: binary does not support 'get' yet"
    [[ $GET_HELP == *--md5* ]] || die "'$GALAXY_DL get --help' does not mention --md5: not a usable galaxy-dl yet"
fi

mkdir -p "$OUT" "$WWW"
rm -rf "$DL"
mkdir -p "$DL"
: >"$RES"

FSTYPE=$(df --output=fstype "$OUT" | tail -n 1 | tr -d ' ')
case $FSTYPE in
    tmpfs | ramfs) log "WARNING: $OUT is on $FSTYPE; numbers will not reflect a real disk" ;;
esac

# ----------------------------------------------------------------- meta ----
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_START" 'BEGIN { exit !(l > 0.5) }'; then
    log "WARNING: 1-min load average is $LOAD_START before starting; other work on this machine will skew the numbers"
fi
ver() { "$@" 2>&1 | head -n 1 || true; }
GDL_VER=n/a
[[ $HAVE_GDL == 1 ]] && GDL_VER=$(ver "$GALAXY_DL" --version)
jrec kind=meta \
    date="$(date -u)" \
    nproc:="$(nproc)" \
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    kernel="$(uname -srm)" \
    fstype="$FSTYPE" \
    load_start:="$LOAD_START" \
    mem_total="$(grep -m1 MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')" \
    size_mib:="$SIZE_MIB" size_bytes:="$SRC_BYTES" src_file="${SRC_FILE:-generated}" \
    capped_tools="$CAPPED_TOOLS" uncapped_tools="$UNCAPPED_TOOLS" gd_threads:="$GD_THREADS" \
    rate_mib:="$RATE_MIB" rounds:="$ROUNDS" workers:="$WORKERS" big_mib:="$BIG_MIB" \
    galaxy_dl_path="$([[ $HAVE_GDL == 1 ]] && echo "$GALAXY_DL" || echo skip)" \
    v_galaxy_dl="$GDL_VER" \
    v_curl="$(ver curl --version)" \
    v_aria2c="$(ver aria2c --version)" \
    v_nginx="$(ver nginx -v)" \
    v_md5sum="$(ver md5sum --version)" \
    v_python="$(ver python3 --version)" \
    repo_commit="$(git describe --always --dirty 2>/dev/null || echo unknown)"

# --------------------------------------------------------- source files ----
# Deterministic pseudo-random content: AES-256-CTR keystream of a fixed passphrase
# over zeros (no salt), exactly MIB MiB. Reused if it already exists (KEEP_SRC=1).
gen_file() { # name mib seed
    local f=$WWW/$1 bytes=$(($2 * 1048576))
    if [[ -f $f && -f $f.md5 && $(stat -c %s "$f") == "$bytes" ]]; then
        log "reusing $1"
    else
        log "generating $1 ($2 MiB)"
        head -c "$bytes" /dev/zero |
            openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass "pass:galaxy-dl-bench-$3" >"$f.tmp"
        mv "$f.tmp" "$f"
        md5_of "$f" >"$f.md5"
    fi
    cat "$f" >/dev/null # into page cache
}

if [[ $SRC_FILE ]]; then
    if [[ $(realpath "$SRC_FILE") != $(realpath -m "$WWW/$SRC_NAME") ]]; then
        ln -f "$SRC_FILE" "$WWW/$SRC_NAME" 2>/dev/null || cp "$SRC_FILE" "$WWW/$SRC_NAME"
    fi
    md5_of "$WWW/$SRC_NAME" >"$WWW/$SRC_NAME.md5"
    cat "$WWW/$SRC_NAME" >/dev/null # into page cache
else
    gen_file "$SRC_NAME" "$SIZE_MIB" "$SIZE_MIB"
fi
SRC_MD5=$(cat "$WWW/$SRC_NAME.md5")
log "source $SRC_NAME md5 $SRC_MD5"

# ---------------------------------------------------------------- nginx ----
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

NGINX_V=$(nginx -V 2>&1)
write_conf() { # name port
    local dir=$OUT/nginx-$1 tmp=""
    mkdir -p "$dir/tmp"
    for m in client_body proxy fastcgi uwsgi scgi; do
        case $m in client_body) ;; *) [[ $NGINX_V == *"--without-http_${m}_module"* ]] && continue ;; esac
        tmp+="    ${m}_temp_path $dir/tmp/$m;"$'\n'
    done
    cat >"$dir/nginx.conf" <<EOF
$([[ $(id -u) == 0 ]] && echo "user root;")
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    gzip off;
    keepalive_requests 100000;
    keepalive_timeout 60;
$tmp
    types { }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$2;
        root $WWW;
        location / { }
    }
}
EOF
}

wait_nginx() { # pid port name
    local i
    for i in $(seq 100); do
        kill -0 "$1" 2>/dev/null || die "nginx ($3) died; see $OUT/nginx-$3/error.log"
        if curl -sf -o /dev/null "http://127.0.0.1:$2/$SRC_NAME.md5"; then
            return 0
        fi
        sleep 0.05
    done
    die "nginx ($3) did not answer on port $2"
}

RATE_BPS=$((RATE_MIB * 1048576))
if [[ $SKIP_UNCAPPED != 1 || $SKIP_RSS != 1 ]]; then
    PORT_U=$(free_port)
    write_conf uncapped "$PORT_U"
    nginx -p "$OUT/nginx-uncapped" -c "$OUT/nginx-uncapped/nginx.conf" -e "$OUT/nginx-uncapped/error.log" &
    NGINX_PIDS+=($!)
    wait_nginx "$!" "$PORT_U" uncapped
    URL_U=http://127.0.0.1:$PORT_U
    log "uncapped nginx on $URL_U (pid $!)"
fi
if [[ $SKIP_CAPPED != 1 ]]; then
    PORT_C=$(free_port)
    write_conf capped "$PORT_C"
    python3 bench/paced_nginx.py 127.0.0.1 "$PORT_C" "$RATE_BPS" -- \
        nginx -p "$OUT/nginx-capped" -c "$OUT/nginx-capped/nginx.conf" -e "$OUT/nginx-capped/error.log" &
    NGINX_PIDS+=($!)
    wait_nginx "$!" "$PORT_C" capped
    URL_C=http://127.0.0.1:$PORT_C
    log "capped nginx on $URL_C (pid $!), SO_MAX_PACING_RATE $RATE_BPS B/s per connection"

    # Pacing check: one curl connection must run at the cap (+-5%).
    CHECK_MIB=$((SIZE_MIB < 100 ? SIZE_MIB : 100))
    read -r spd tt < <(curl -s -o /dev/null -r "0-$((CHECK_MIB * 1048576 - 1))" \
        -w '%{speed_download} %{time_total}\n' "$URL_C/$SRC_NAME")
    ratio=$(awk -v s="$spd" -v r="$RATE_BPS" 'BEGIN { printf "%.4f", s / r }')
    ok=$(awk -v x="$ratio" 'BEGIN { print (x >= 0.95 && x <= 1.05) ? "true" : "false" }')
    jrec kind=pacing check_mib:="$CHECK_MIB" cap_bps:="$RATE_BPS" speed_bps:="$spd" time_s:="$tt" ratio:="$ratio" ok:="$ok"
    log "pacing check: 1 curl connection, ${CHECK_MIB} MiB: $(awk -v s="$spd" 'BEGIN{printf "%.2f", s/1048576}') MiB/s" \
        "= ${ratio} x cap (${RATE_MIB} MiB/s) in ${tt}s -> $([[ $ok == true ]] && echo OK || echo FAIL)"
    [[ $ok == true ]] || die "per-connection pacing cap not in force (ratio $ratio, need 0.95..1.05)"
fi

# ----------------------------------------------------------------- runs ----
# run_one scenario tool round url name md5 size_mib [workers]
run_one() {
    local scen=$1 tool=$2 round=$3 url=$4 name=$5 md5=$6 mib=$7 w=${8:-} out=$DL/$5
    local dl_s vf_s=0 user sys got wflag=() label load1
    rm -rf "$DL"
    mkdir -p "$DL"
    sync
    load1=$(cut -d' ' -f1 /proc/loadavg)
    case $tool in
        curl)
            timed curl -sS --fail -o "$out" "$url/$name" || die "$scen curl failed"
            ;;
        aria2c)
            timed aria2c -x8 -s8 -k1M --file-allocation=falloc -q \
                --allow-overwrite=true --auto-file-renaming=false \
                -d "$DL" -o "$name" "$url/$name" || die "$scen aria2c failed"
            ;;
        galaxy-dl)
            [[ $w ]] && wflag=(--workers "$w")
            timed "$GALAXY_DL" get "$url/$name" -o "$out" --md5 "$md5" "${wflag[@]}" --quiet >"$OUT/galaxy-dl.stdout" ||
                die "$scen galaxy-dl failed (exit $?)"
            ;;
        galaxy-dl-nomd5)
            [[ $w ]] && wflag=(--workers "$w")
            timed "$GALAXY_DL" get "$url/$name" -o "$out" "${wflag[@]}" --quiet >"$OUT/galaxy-dl.stdout" ||
                die "$scen galaxy-dl (no --md5) failed (exit $?)"
            ;;
        gd)
            # The Python galaxy_dl library's V1 blob/range downloader (GalaxyDownloader.
            # _download_v1_range: 10 MiB Range requests on a ThreadPoolExecutor, no MD5), driven
            # on the URL directly; GD_DIR is a checkout of it (bench/all.sh, never committed).
            timed env PYTHONPATH="$GD_DIR" "$GD_PYTHON" -c '
import sys
from galaxy_dl.downloader import GalaxyDownloader
url, size, out, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
GalaxyDownloader(api=None, max_workers=threads)._download_v1_range(url, 0, size, out)
' "$url/$name" "$SRC_BYTES" "$out" "$GD_THREADS" || die "$scen gd (python galaxy_dl) failed"
            ;;
    esac
    dl_s=$T_WALL user=$(fadd "$T_USER" 0) sys=$(fadd "$T_SYS" 0)
    if [[ $tool == galaxy-dl* || $tool == gd ]]; then
        # untimed: galaxy-dl --md5 verified already; galaxy-dl-nomd5 and gd are download-only figures
        check_md5 "$out" "$md5" "$scen $tool round $round"
    else
        # download-then-verify: md5sum is part of the timed work
        [[ -f $out ]] || die "no output file after $scen $tool round $round: $out"
        timed md5sum "$out" >"$OUT/md5.txt" || die "md5sum failed"
        vf_s=$T_WALL
        user=$(fadd "$user" "$T_USER")
        sys=$(fadd "$sys" "$T_SYS")
        got=$(cut -d' ' -f1 "$OUT/md5.txt")
        [[ $got == "$md5" ]] || die "MD5 MISMATCH for $scen $tool round $round: got $got, expected $md5"
    fi
    local total
    total=$(fadd "$dl_s" "$vf_s")
    jrec kind=run scenario="$scen" tool="$tool" round:="$round" size_mib:="$mib" size_bytes:="$SRC_BYTES" workers="${w:-default}" \
        dl_s:="$dl_s" verify_s:="$vf_s" total_s:="$total" user_s:="$user" sys_s:="$sys" md5_ok:=true load1:="$load1"
    label=$tool
    [[ $tool == galaxy-dl* ]] && label="$tool(w=${w:-default})"
    log "$scen round $round $label: download ${dl_s}s + verify ${vf_s}s = ${total}s" \
        "($(awk -v m="$mib" -v t="$total" 'BEGIN{printf "%.1f", m/t}') MiB/s), cpu ${user}u ${sys}s, md5 ok"
    rm -rf "$DL"
    mkdir -p "$DL"
}

nogdl() { tr ' ' '\n' <<<"$1" | grep -v '^galaxy-dl' | tr '\n' ' '; }
if [[ $HAVE_GDL != 1 ]]; then
    CAPPED_TOOLS=$(nogdl "$CAPPED_TOOLS")
    UNCAPPED_TOOLS=$(nogdl "$UNCAPPED_TOOLS")
fi
if [[ " $UNCAPPED_TOOLS " == *" gd "* ]]; then
    [[ $GD_DIR && -d $GD_DIR/galaxy_dl ]] || die "UNCAPPED_TOOLS has gd but GD_DIR ($GD_DIR) holds no galaxy_dl/"
fi
read -ra CTOOLS <<<"$CAPPED_TOOLS"
read -ra UTOOLS <<<"$UNCAPPED_TOOLS"

for ((r = 1; r <= ROUNDS; r++)); do
    # Rotate the order each round so no tool always runs first/last.
    if [[ $SKIP_CAPPED != 1 ]]; then
        for ((i = 0; i < ${#CTOOLS[@]}; i++)); do
            t=${CTOOLS[$(((i + r - 1) % ${#CTOOLS[@]}))]}
            run_one capped "$t" "$r" "$URL_C" "$SRC_NAME" "$SRC_MD5" "$SIZE_MIB" \
                "$([[ $t == galaxy-dl* ]] && echo "$WORKERS")"
        done
    fi
    if [[ $SKIP_UNCAPPED != 1 ]]; then
        for ((i = 0; i < ${#UTOOLS[@]}; i++)); do
            t=${UTOOLS[$(((i + r - 1) % ${#UTOOLS[@]}))]}
            run_one uncapped "$t" "$r" "$URL_U" "$SRC_NAME" "$SRC_MD5" "$SIZE_MIB"
        done
    fi
done

# ---------------------------------------------------------- peak RssAnon ----
rss_one() { # tool
    local tool=$1 out=$DL/$BIG_NAME f=$OUT/rss.txt cmd t0 t1
    rm -rf "$DL"
    mkdir -p "$DL"
    sync
    case $tool in
        galaxy-dl) cmd=("$GALAXY_DL" get "$URL_U/$BIG_NAME" -o "$out" --md5 "$BIG_MD5" --workers "$RSS_WORKERS" --quiet) ;;
        aria2c) cmd=(aria2c "-x$ARIA_RSS_X" "-s$ARIA_RSS_X" -k1M --file-allocation=falloc -q
            --allow-overwrite=true --auto-file-renaming=false -d "$DL" -o "$BIG_NAME" "$URL_U/$BIG_NAME") ;;
        curl) cmd=(curl -sS --fail -o "$out" "$URL_U/$BIG_NAME") ;;
    esac
    t0=$EPOCHREALTIME
    python3 bench/peak_rss.py "$f" "${cmd[@]}" >"$OUT/rss.stdout" || die "rss run of $tool failed"
    t1=$EPOCHREALTIME
    check_md5 "$out" "$BIG_MD5" "rss $tool"
    read -r anon file shmem samples <"$f"
    jrec kind=rss tool="$tool" size_mib:="$BIG_MIB" \
        workers="$([[ $tool == galaxy-dl ]] && echo $RSS_WORKERS || { [[ $tool == aria2c ]] && echo "x$ARIA_RSS_X" || echo 1; })" \
        anon_kib:="$anon" file_kib:="$file" shmem_kib:="$shmem" samples:="$samples" wall_s:="$(fsub "$t0" "$t1")"
    log "rss $tool on $BIG_MIB MiB: peak RssAnon $(awk -v k="$anon" 'BEGIN{printf "%.1f", k/1024}') MiB" \
        "(RssFile $((file / 1024)) MiB, $samples samples), md5 ok"
    rm -rf "$DL"
    mkdir -p "$DL"
}

if [[ $SKIP_RSS != 1 ]]; then
    gen_file "$BIG_NAME" "$BIG_MIB" "$BIG_MIB"
    BIG_MD5=$(cat "$WWW/$BIG_NAME.md5")
    for t in curl aria2c $([[ $HAVE_GDL == 1 ]] && echo galaxy-dl); do
        rss_one "$t"
    done
    [[ $KEEP_SRC == 1 ]] || rm -f "$WWW/$BIG_NAME" "$WWW/$BIG_NAME.md5"
fi

# ---------------------------------------------------------- binary size ----
if [[ $SKIP_MUSL != 1 ]]; then
    bin=""
    status=ok
    src="built here from commit $(git describe --always --dirty 2>/dev/null || echo unknown)"
    if [[ $MUSL_BIN ]]; then
        bin=$MUSL_BIN
        src="prebuilt MUSL_BIN"
    elif rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"; then
        log "building musl release binary (log: bench/out/musl-build.log)"
        if cargo build --release --target "$MUSL_TARGET" >"$OUT/musl-build.log" 2>&1; then
            bin=target/$MUSL_TARGET/release/galaxy-dl
        else
            status="build failed (see bench/out/musl-build.log)"
        fi
    else
        status="target $MUSL_TARGET not installed (rustup target add $MUSL_TARGET; apt-get install -y musl-tools)"
    fi
    if [[ $bin && -f $bin ]]; then
        bytes=$(stat -c %s "$bin")
        linkage=$(file -b "$bin" 2>/dev/null | cut -d, -f1-4 || echo unknown)
        jrec kind=binsize path="$bin" bytes:="$bytes" status=ok file="$linkage" source="$src"
        log "musl binary $bin: $bytes bytes"
    else
        [[ $status == ok ]] && status="binary not found: $bin"
        jrec kind=binsize status="$status"
        log "musl binary size: $status"
    fi
fi

# --------------------------------------------------------------- report ----
python3 bench/report.py "$RES" "$REPORT" || die "bench/report.py failed (raw results: $RES)"
log "wrote $REPORT (raw results: $RES)"
