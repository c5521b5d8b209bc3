# lgogdownloader as a side-by-side peer of `galaxy-dl download` (issue 13 item 2). Sourced by
# bench/install.sh after bench/lib.sh (uses OUT, RES, MOCK_PID, fresh_dl, jrec, fsub, log, die,
# proc_cpu, machine_busy, machine_steal, read_stats).
#
# lgogdownloader speaks HTTPS to GOG's host names only (auth.gog.com, content-system.gog.com,
# cdn.gog.com, embed.gog.com, www.gog.com). So:
#   * a local CA and one server certificate for those names (openssl), given to it by --cacert;
#   * nginx on 127.0.0.1:443 terminates TLS and proxies to the mock (keep-alive upstream);
#     www.gog.com/account answers 200 (its "logged in" probe);
#   * the names resolve to 127.0.0.1 only inside a private mount namespace (`unshare -m`) where
#     a hosts file is bind-mounted over /etc/hosts; nothing outside that process sees it;
#   * its tokens are the mock's, in $XDG_CONFIG_HOME/lgogdownloader/galaxy_tokens.json (the
#     /token answer plus `expires_at`: the format of lgogdownloader 3.9, src/downloader.cpp);
#   * `--dlc-list ""` keeps it from fetching its DLC list from GitHub (the one non-GOG URL it
#     would otherwise request at start).
# The chunk downloads themselves go where the mock's secure links point: plain HTTP to the mock
# on 127.0.0.1, exactly like galaxy-dl's, so both tools fetch chunk bytes from the same server
# over the same kind of connection (and the same --pace cap); only the few API/manifest calls go
# through nginx+TLS.
#
# lgogdownloader 3.9 refuses V1 builds ("Only generation 2 builds are supported currently"), so
# only the V2 game product has a peer. It does not check any MD5 while installing (it hashes only
# files already present before a run); the harness therefore also times `md5sum -c` of its
# files against the manifest MD5s, which is both the output check and the "verified install"
# cost to compare with galaxy-dl, which checks every chunk and file while downloading.

PEER_DIR=$OUT/peer
PEER_HOSTS="auth.gog.com content-system.gog.com cdn.gog.com embed.gog.com api.gog.com www.gog.com gog.com"
PEER_NGINX_PID=
PEER_THREADS=${PEER_THREADS:-4}
LGOG=${LGOG:-lgogdownloader}

# peer_preflight: sets HAVE_PEER=1 when lgogdownloader, nginx (with TLS), openssl and a private
# mount namespace are usable (installing the packages with apt-get as root when missing), else
# HAVE_PEER=0 and PEER_WHY says what is missing.
peer_preflight() {
    HAVE_PEER=0
    PEER_WHY=
    local missing=()
    command -v "$LGOG" >/dev/null || missing+=(lgogdownloader)
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v unshare >/dev/null || missing+=(util-linux)
    if ((${#missing[@]})) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]} (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >"$OUT/peer-apt.log" 2>&1 ||
            log "apt-get install failed (see $OUT/peer-apt.log)"
    fi
    command -v "$LGOG" >/dev/null || { PEER_WHY="lgogdownloader not installed"; return; }
    command -v nginx >/dev/null || { PEER_WHY="nginx not installed"; return; }
    command -v openssl >/dev/null || { PEER_WHY="openssl not installed"; return; }
    nginx -V 2>&1 | grep -q with-http_ssl_module || { PEER_WHY="nginx lacks http_ssl_module"; return; }
    [[ $(id -u) == 0 ]] || { PEER_WHY="not root: nginx must bind 127.0.0.1:443 and unshare -m needs CAP_SYS_ADMIN"; return; }
    unshare -m true 2>/dev/null || { PEER_WHY="unshare -m (private mount namespace) not permitted here"; return; }
    if ss -ltn 2>/dev/null | grep -q '127.0.0.1:443 \|0.0.0.0:443 \|\*:443 '; then
        PEER_WHY="port 443 already in use"
        return
    fi
    HAVE_PEER=1
    PEER_VERSION=$("$LGOG" --version 2>&1 | head -n1)
    mkdir -p "$PEER_DIR"
    peer_certs
}

# A CA and a server certificate for every GOG host name (SAN), valid for a day.
peer_certs() {
    local d=$PEER_DIR san="" h
    for h in $PEER_HOSTS; do san+="${san:+,}DNS:$h"; done
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=galaxy-dl bench CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" >"$d/openssl.log" 2>&1 || die "openssl: CA failed"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=cdn.gog.com" -keyout "$d/server.key" -out "$d/server.csr" \
        >>"$d/openssl.log" 2>&1 || die "openssl: CSR failed"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 1 \
        -extfile "$d/ext.cnf" -out "$d/server.pem" >>"$d/openssl.log" 2>&1 || die "openssl: signing failed"
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost"
        for h in $PEER_HOSTS; do echo "127.0.0.1 $h"; done
    } >"$d/hosts"
}

# peer_start MOCK_NAME: nginx in front of the running mock, and lgogdownloader's tokens.
peer_start() {
    local name=$1 d=$PEER_DIR port
    port=$(grep -oE 'GALAXY_DL_CDN_URL=http://127\.0\.0\.1:[0-9]+' "$OUT/mock-$name.out" | grep -oE '[0-9]+$')
    [[ $port ]] || die "peer: mock port not found"
    mkdir -p "$d/tmp"
    : >"$d/access.log"
    cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 512; }
http {
    log_format peer '\$host "\$request" \$status \$body_bytes_sent \$request_time';
    access_log $d/access.log peer;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    upstream mock {
        server 127.0.0.1:$port;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:443 ssl;
        server_name auth.gog.com content-system.gog.com cdn.gog.com embed.gog.com api.gog.com;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host 127.0.0.1:$port;
        }
    }
    server {
        listen 127.0.0.1:443 ssl default_server;
        server_name www.gog.com gog.com;
        location = /account { return 200 "mock account page\n"; }
        location / { return 404; }
    }
}
EOF
    nginx -c "$d/nginx.conf" -p "$d" -g 'daemon on;' >"$d/nginx-start.log" 2>&1 ||
        die "peer: nginx failed to start: $(cat "$d/nginx-start.log" "$d/error.log" 2>/dev/null | tail -n 5)"
    local i
    for i in $(seq 50); do [[ -s $d/nginx.pid ]] && break; sleep 0.1; done
    PEER_NGINX_PID=$(cat "$d/nginx.pid" 2>/dev/null)
    [[ $PEER_NGINX_PID ]] || die "peer: nginx wrote no pid"
    # The TLS endpoint answers for the GOG names with our CA (checked with curl's --resolve).
    curl -sS --fail -o /dev/null --cacert "$d/ca.pem" --resolve content-system.gog.com:443:127.0.0.1 \
        "https://content-system.gog.com/products/$GAME_V2_ID/os/windows/builds?generation=2" ||
        die "peer: TLS proxy check failed"
    # lgogdownloader's tokens: the mock's /token answer plus expires_at.
    export XDG_CONFIG_HOME=$d/xdg-config XDG_CACHE_HOME=$d/xdg-cache
    mkdir -p "$XDG_CONFIG_HOME/lgogdownloader" "$XDG_CACHE_HOME"
    curl -sS --fail -o "$d/token.json" \
        "http://127.0.0.1:$port/token?grant_type=authorization_code&code=fixture-login-code&client_id=x&client_secret=y&redirect_uri=z" ||
        die "peer: token request failed"
    python3 - "$d/token.json" "$XDG_CONFIG_HOME/lgogdownloader/galaxy_tokens.json" <<'PY'
import json, os, sys, time
t = json.load(open(sys.argv[1]))
t["expires_at"] = int(time.time()) + int(t.get("expires_in", 3600)) - 60
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(t).encode())
os.close(fd)
PY
    # What a correct install holds (path -> MD5, from the mock's manifests), in md5sum -c form.
    python3 "$ROOT/bench/peer_expected.py" "http://127.0.0.1:$port" "$GAME_V2_ID" en-US >"$d/expected.md5" ||
        die "peer: could not read the expected MD5s"
    PEER_EXPECTED_FILES=$(wc -l <"$d/expected.md5")
    log "peer: nginx (pid $PEER_NGINX_PID) on 127.0.0.1:443 -> mock :$port; $PEER_VERSION; $PEER_EXPECTED_FILES files expected"
}

# CPU seconds of nginx: the master and its workers (children).
nginx_cpu() {
    local p total=0
    for p in "$PEER_NGINX_PID" $(cat "/proc/$PEER_NGINX_PID/task/$PEER_NGINX_PID/children" 2>/dev/null); do
        [[ -r /proc/$p/stat ]] && total=$(awk -v a="$total" -v b="$(proc_cpu "$p")" 'BEGIN { printf "%.3f", a + b }')
    done
    echo "$total"
}

peer_stop() {
    [[ $PEER_NGINX_PID ]] || return 0
    kill -QUIT "$PEER_NGINX_PID" 2>/dev/null || true
    local i
    for i in $(seq 50); do kill -0 "$PEER_NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    PEER_NGINX_PID=
}

# peer_v1_probe: ask lgogdownloader to install the V1 twin once and record what it says
# (3.9: "Only generation 2 builds are supported currently", exit 0, nothing written).
peer_v1_probe() {
    local dir=$DL/peer-v1 out rc=0 files
    mkdir -p "$dir"
    unshare -m -- sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' peer "$PEER_DIR/hosts" \
        "$LGOG" --galaxy-install "$GAME_V1_ID/0" --galaxy-platform w --threads "$PEER_THREADS" \
        --directory "$dir" --cacert "$PEER_DIR/ca.pem" --dlc-list "" --no-color --no-unicode \
        >"$OUT/peer-v1.out" 2>&1 </dev/null || rc=$?
    out=$(grep -v '^$' "$OUT/peer-v1.out" | tail -n 1)
    files=$(find "$dir" -type f | wc -l)
    jrec kind=peer_v1 id="$GAME_V1_ID" exit:="$rc" said="$out" files:="$files"
    log "peer: lgogdownloader on the V1 twin: exit $rc, \"$out\", $files files written"
    rm -rf "$dir"
}

# run_peer SCENARIO ROUND MOCK_NAME: one lgogdownloader install of the V2 game product.
run_peer() {
    local scen=$1 round=$2 mname=$3 dir=$DL/peer id=$GAME_V2_ID rc=0 load t0 t1
    fresh_dl
    mkdir -p "$dir"
    sync
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local s0 s1 m0 m1 b0 b1 st0 st1
    read_stats "$OUT/mock-$mname.stats"
    s0=("$S_requests" "$S_chunk_requests" "$S_body_bytes" "$S_connections")
    m0=$(proc_cpu "$MOCK_PID")
    local n0
    n0=$(nginx_cpu)
    st0=$(machine_steal)
    b0=$(machine_busy)
    t0=$EPOCHREALTIME
    unshare -m -- sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' peer "$PEER_DIR/hosts" \
        /usr/bin/time -f '%U %S %M' -o "$TIMEF" \
        "$LGOG" --galaxy-install "$id/0" --galaxy-platform w --galaxy-language en --threads "$PEER_THREADS" \
        --directory "$dir" --cacert "$PEER_DIR/ca.pem" --dlc-list "" --no-color --no-unicode \
        --progress-interval 1000 >"$OUT/peer.stdout" 2>"$OUT/peer.stderr" </dev/null || rc=$?
    t1=$EPOCHREALTIME
    b1=$(machine_busy)
    st1=$(machine_steal)
    m1=$(proc_cpu "$MOCK_PID")
    local n1
    n1=$(nginx_cpu)
    [[ $rc -eq 0 ]] || die "peer $scen round $round: lgogdownloader exited $rc: $(tail -n 5 "$OUT/peer.stderr")"
    sleep 0.2
    read_stats "$OUT/mock-$mname.stats"
    s1=("$S_requests" "$S_chunk_requests" "$S_body_bytes" "$S_connections")
    local wall user sys maxrss
    wall=$(fsub "$t0" "$t1")
    read -r user sys maxrss < <(tail -n 1 "$TIMEF")
    # Output check (and the cost of verifying what lgogdownloader did not): md5sum -c of every
    # expected file, and no file more or less than expected.
    local inst="$dir/Bench Game" vt0 vt1 vuser vsys vrc=0
    [[ -d $inst ]] || die "peer $scen round $round: nothing installed in $inst: $(tail -n 5 "$OUT/peer.stdout")"
    sync
    vt0=$EPOCHREALTIME
    (cd "$inst" && /usr/bin/time -f '%U %S' -o "$OUT/peer-verify.time" md5sum -c --quiet "$PEER_DIR/expected.md5") \
        >"$OUT/peer-verify.out" 2>&1 || vrc=$?
    vt1=$EPOCHREALTIME
    [[ $vrc -eq 0 ]] || die "peer $scen round $round: lgogdownloader's files differ from the manifest: $(head -n 5 "$OUT/peer-verify.out")"
    read -r vuser vsys < <(tail -n 1 "$OUT/peer-verify.time")
    local bytes files
    read -r bytes files < <(find "$inst" -type f -printf '%s\n' | awk '{ b += $1; n++ } END { printf "%d %d\n", b, n }')
    [[ $files -eq $PEER_EXPECTED_FILES ]] ||
        die "peer $scen round $round: $files files installed, $PEER_EXPECTED_FILES expected"
    jrec kind=install tool=lgogdownloader scenario="$scen" product=game-v2 id="$id" round:="$round" \
        workers:="$PEER_THREADS" needed_bytes:=null \
        wall_s:="$wall" user_s:="$user" sys_s:="$sys" maxrss_kib:="$maxrss" \
        mock_cpu_s:="$(fsub "$m0" "$m1")" nginx_cpu_s:="$(fsub "$n0" "$n1")" \
        machine_busy_s:="$(fsub "$b0" "$b1")" steal_s:="$(fsub "$st0" "$st1")" load="$load" \
        bytes:="$bytes" files:="$files" small_files:="$(find "$inst" -type f -size -33k | wc -l)" \
        verified:=true verify_wall_s:="$(fsub "$vt0" "$vt1")" verify_user_s:="$vuser" verify_sys_s:="$vsys" \
        mock_requests:="$((s1[0] - s0[0]))" mock_main_bin_requests:=0 mock_chunk_requests:="$((s1[1] - s0[1]))" \
        mock_body_bytes:="$((s1[2] - s0[2]))" mock_connections:="$((s1[3] - s0[3]))" \
        log_chunk_requests:=null log_main_bin_requests:=null
    log "$scen game-v2 round $round: lgogdownloader $(awk -v b="$bytes" -v t="$wall" 'BEGIN{printf "%.1f MiB in %.3f s = %.1f MiB/s", b/1048576, t, b/1048576/t}')," \
        "cpu ${user}u ${sys}s, mock $(fsub "$m0" "$m1")s, nginx $(fsub "$n0" "$n1")s; md5sum -c $(fsub "$vt0" "$vt1") s" \
        "(${vuser}u ${vsys}s): $files files OK; chunk GETs $((s1[1] - s0[1])), load $load"
    cp "$PEER_DIR/access.log" "$OUT/peer-access-$scen-$round.log" 2>/dev/null || true
    fresh_dl
}
