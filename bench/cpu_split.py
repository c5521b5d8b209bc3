#!/usr/bin/env python3
"""Class the samples of `perf script -F comm,ip,sym` (recorded with -g) by what their stack
does: hash, receive, page faults of the mapped output, copy, writeback, other. Used for the
`get --md5` CPU split in bench/notes.md:

    perf record -g -F 3999 -o p.data -- galaxy-dl get URL -o F --md5 HEX --quiet
    perf script -i p.data -F comm,ip,sym | python3 bench/cpu_split.py

Needs a build with symbols: CARGO_PROFILE_RELEASE_STRIP=false cargo build --release.
"""
import collections
import sys

COPY_LEAVES = ("_copy_to_iter", "__memmove", "copy_user")
# The output's page cache: `pwrite` of zeros ahead of the stores (`MappedFile::give_up`), the
# populate that maps those pages, and any page fault left.
FAULT_FRAMES = ("madvise", "handle_mm_fault", "exc_page_fault", "ksys_pwrite64", "generic_perform_write")
WRITEBACK_FRAMES = ("sync_file_range", "writeback")
RECEIVE_FRAMES = ("tcp_", "sock_", "recv", "softirq", "net_rx", "ip_")


def classify(stack):
    """The class of one sample, from its frames (leaf first)."""
    joined = " ".join(stack)
    leaf = stack[0] if stack else ""
    if "md5::compress" in joined or "md5x::" in joined:
        return "hash (MD5)"
    if any(c in leaf for c in COPY_LEAVES):
        return "copy (socket -> ureq buffer -> mapping)"
    if any(f in joined for f in FAULT_FRAMES):
        return "page cache of the output (pwrite of zeros, populate, faults)"
    if any(f in joined for f in WRITEBACK_FRAMES):
        return "writeback"
    if any(f in joined for f in RECEIVE_FRAMES):
        return "receive (TCP, ureq)"
    return "other"


def main():
    counts = collections.Counter()
    stack, in_sample = [], False
    for line in sys.stdin:
        if not line.strip():
            if in_sample:
                counts[classify(stack)] += 1
            stack, in_sample = [], False
        elif not line.startswith((" ", "\t")):
            in_sample = True
        else:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                stack.append(parts[1])
    if in_sample:
        counts[classify(stack)] += 1
    total = sum(counts.values()) or 1
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
