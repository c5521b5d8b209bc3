# Shared by bench/install.sh and bench/verify.sh (sourced after they define ROOT, OUT, MOCK,
# GDL, RES, CLK_TCK and log/die; bench/run.sh uses jrec and fsub): JSON result records, the
# mock's start/stop and login, and the exit trap (mocks stopped, CLEAN_DIRS removed).

MOCK_PIDS=()
CLEAN_DIRS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if declare -F peer_stop >/dev/null; then peer_stop; fi # nginx of bench/peer.sh
    for p in "${MOCK_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${MOCK_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "${CLEAN_DIRS[@]}"
    [[ $rc -ne 0 ]] && log "exited with status $rc (mocks stopped, install dirs removed)"
    exit "$rc"
}

# jrec key=string key:=raw_json ...  -> one JSON object appended to $RES
jrec() {
    python3 - "$@" >>"$RES" <<'PY'
import json, sys
obj = {}
for a in sys.argv[1:]:
    if ":=" in a and ("=" not in a or a.index(":=") < a.index("=")):
        k, v = a.split(":=", 1)
        obj[k] = json.loads(v)
    else:
        k, v = a.split("=", 1)
        obj[k] = v
print(json.dumps(obj))
PY
}

fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }

machine_steal() {
    awk -v tck="$CLK_TCK" '/^cpu / { printf "%.3f", $9 / tck }' /proc/stat
}

# start_mock NAME ARGS... : starts galaxy-dl-mock in the background, waits for "# ready",
# sets MOCK_PID and exports the GALAXY_DL_* URLs it prints.
start_mock() {
    local name=$1 i
    shift
    "$MOCK" "$@" >"$OUT/mock-$name.out" 2>&1 </dev/null &
    MOCK_PID=$!
    MOCK_PIDS+=("$MOCK_PID")
    for i in $(seq 3000); do
        kill -0 "$MOCK_PID" 2>/dev/null || die "mock ($name) died: $(cat "$OUT/mock-$name.out")"
        grep -q '^# ready' "$OUT/mock-$name.out" && break
        sleep 0.1
    done
    grep -q '^# ready' "$OUT/mock-$name.out" || die "mock ($name) not ready after 300 s"
    log "mock $name (pid $MOCK_PID): $(grep -E '^# (ready|pace|url)' "$OUT/mock-$name.out" | tr '\n' ' ')"
}

stop_mock() {
    kill -TERM "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
}

use_mock_env() { # name
    eval "$(grep '^export GALAXY_DL_' "$OUT/mock-$1.out")"
    export GALAXY_DL_CONFIG_DIR=$OUT/config
}

# login: `galaxy-dl login --code` if this build has it, else /token with curl -> auth.json
login() {
    mkdir -p "$GALAXY_DL_CONFIG_DIR"
    if "$GDL" login --help >/dev/null 2>&1; then
        "$GDL" login --code fixture-login-code >/dev/null || die "galaxy-dl login failed"
        return
    fi
    curl -sS --fail -o "$OUT/token.json" \
        "$GALAXY_DL_AUTH_URL/token?grant_type=authorization_code&code=fixture-login-code&client_id=x&client_secret=y&redirect_uri=z" ||
        die "token request failed"
    python3 - "$OUT/token.json" "$GALAXY_DL_CONFIG_DIR/auth.json" <<'PY'
import json, os, sys, time
t = json.load(open(sys.argv[1]))
a = {"access_token": t["access_token"], "refresh_token": t["refresh_token"],
     "expires_at": int(time.time()) + 3000, "user_id": str(t["user_id"])}
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(a).encode())
os.close(fd)
PY
}

# disk_and_load_check: $OUT must be on a real disk (sets FSTYPE); warns when the machine is
# already busy (sets LOAD_START).
disk_and_load_check() {
    FSTYPE=$(df --output=fstype "$OUT" | tail -n 1 | tr -d ' ')
    case $FSTYPE in tmpfs | ramfs) die "$OUT is on $FSTYPE; install dirs must be on a real disk" ;; esac
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    if awk -v l="${LOAD_START%% *}" 'BEGIN { exit !(l > 0.5) }'; then
        log "WARNING: load average is $LOAD_START before starting; other work will skew the numbers"
    fi
}
