#!/usr/bin/env python3
"""Run a command and report the peak RssAnon of its process.

Usage: peak_rss.py OUT_FILE CMD [ARGS...]

Samples /proc/PID/status every 10 ms while CMD runs and writes one line
"<peak RssAnon KiB> <peak RssFile KiB> <peak RssShmem KiB> <samples>" to
OUT_FILE. Exit status is CMD's. RssAnon excludes mapped file pages (an mmap'ed
output file shows up as RssFile/RssShmem), so it is the process's own heap,
stacks and buffers. Only the direct child is sampled (galaxy-dl and aria2c use
threads, not subprocesses).
"""
import subprocess
import sys
import time

INTERVAL = 0.010


def read_status(pid: int) -> dict:
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                    key, rest = line.split(":", 1)
                    vals[key] = int(rest.split()[0])  # kB
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return vals


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, cmd = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(cmd)
    peak = {"RssAnon": 0, "RssFile": 0, "RssShmem": 0}
    samples = 0
    while proc.poll() is None:
        vals = read_status(proc.pid)
        if vals:
            samples += 1
            for k, v in vals.items():
                if v > peak[k]:
                    peak[k] = v
        time.sleep(INTERVAL)
    with open(out, "w") as f:
        f.write(f"{peak['RssAnon']} {peak['RssFile']} {peak['RssShmem']} {samples}\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
