#!/usr/bin/env python3
"""Run a command and report the peak RssAnon of its process.

Usage: peak_rss.py OUT_FILE CMD [ARGS...]

Samples /proc/PID/status every 10 ms while CMD runs and writes one line
"<peak RssAnon KiB> <peak RssFile KiB> <peak RssShmem KiB> <samples>" to
OUT_FILE. Exit status is CMD's. RssAnon excludes mapped file pages (an mmap'ed
output file shows up as RssFile/RssShmem), so it is the process's own heap,
stacks and buffers. Values are summed over CMD and its live descendants
(found through /proc/*/stat); galaxy-dl and aria2c use threads, so for them
this is a single process.
"""
import os
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


def ppid_map() -> dict:
    """parent pid -> child pids, from /proc/*/stat (no CONFIG_PROC_CHILDREN needed)."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def descendants(pid: int) -> list:
    kids = ppid_map()
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        if p not in out:
            out.append(p)
            stack.extend(kids.get(p, []))
    return out


def tree_status(pids: list) -> dict:
    """Sum of the status values of the given pids."""
    total = {}
    for p in pids:
        for k, v in read_status(p).items():
            total[k] = total.get(k, 0) + v
    return total


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, cmd = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(cmd)
    peak = {"RssAnon": 0, "RssFile": 0, "RssShmem": 0}
    samples = 0
    pids = [proc.pid]
    while proc.poll() is None:
        if samples % 10 == 0:  # rescanning /proc costs ~4 ms: do it every ~100 ms only
            pids = descendants(proc.pid)
        vals = tree_status(pids)
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
