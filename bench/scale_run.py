#!/usr/bin/env python3
"""Run one galaxy-dl command for bench/scale.sh and report what it cost.

Usage: scale_run.py STATS_FILE OUT_JSONL LABEL KILL_AT_BYTES CMD [ARGS...]

STATS_FILE is the mock's `--stats-file` (rewritten every 50 ms with `requests=N ...
body_bytes=N main_bin_requests=N chunk_requests=N`). While CMD runs, every 10 ms this samples
/proc/PID/status (RssAnon, VmHWM) and the stats file, and records:
  - ttfb_s: seconds from start until the mock counted the first data request of this run
    (a V2 chunk or a V1 main.bin range) -- the planning time as a user feels it;
  - wall_s, cpu_s (user + sys of CMD, from getrusage), rc, peak_rss_anon_kib (heap, stacks, buffers; mapped output files excluded),
    vm_hwm_kib (peak resident incl. mapped file pages), served_bytes (mock body bytes of this
    run), data_requests;
  - load: /proc/loadavg at the start.
KILL_AT_BYTES > 0: SIGKILL the process once the mock has served that many body bytes in this
run (the interrupted half of a resume measurement). One JSON object is appended to OUT_JSONL
and printed. Exit status 0 unless the command could not be started.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time


def stats(path):
    try:
        with open(path) as f:
            return {k: int(v) for k, v in (kv.split("=", 1) for kv in f.read().split())}
    except (FileNotFoundError, ValueError):
        return {}


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def data_reqs(s):
    return s.get("main_bin_requests", 0) + s.get("chunk_requests", 0)


def main():
    stats_file, out_file, label, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    cmd = sys.argv[5:]
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    time.sleep(0.1)  # let the stats file settle
    base = stats(stats_file)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    err_path = f"{out_file}.{label}.stderr"
    errf = open(err_path, "w")  # a file, not a pipe: a chatty child must never block on it
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf)
    ttfb = None
    peak_anon = 0
    hwm = 0
    killed = False
    last = base
    while p.poll() is None:
        st = status(p.pid)
        peak_anon = max(peak_anon, st.get("RssAnon", 0))
        hwm = max(hwm, st.get("VmHWM", 0))
        s = stats(stats_file) or last
        last = s
        if ttfb is None and data_reqs(s) > data_reqs(base):
            ttfb = time.monotonic() - t0
        if kill_at > 0 and not killed and s.get("body_bytes", 0) - base.get("body_bytes", 0) >= kill_at:
            p.send_signal(signal.SIGKILL)
            killed = True
        time.sleep(0.01)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    errf.close()
    with open(err_path, errors="replace") as f:
        err = f.read()
    time.sleep(0.2)  # final stats rewrite
    end = stats(stats_file) or last
    rec = {
        "label": label,
        "rc": p.returncode,
        "killed": killed,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "ttfb_s": None if ttfb is None else round(ttfb, 3),
        "peak_rss_anon_kib": peak_anon,
        "vm_hwm_kib": hwm,
        "served_bytes": end.get("body_bytes", 0) - base.get("body_bytes", 0),
        "data_requests": data_reqs(end) - data_reqs(base),
        "load": load,
        "stderr_tail": err.strip().splitlines()[-3:],
    }
    with open(out_file, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
