"""Shared by bench/install_report.py and bench/verify_report.py: put one rendered section into
BENCHMARKS.md between its BEGIN/END markers, leaving the rest of the file alone."""

import os


def splice(out, section, begin, end, new_file="# Benchmarks\n"):
    """Replace the text from `begin` to `end` in file `out` with `section` (appended when the
    markers are missing; `new_file` + section when the file does not exist)."""
    text = open(out).read() if os.path.exists(out) else new_file
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end)
        text = text[:a] + section.rstrip("\n") + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(out, "w") as fh:
        fh.write(text)
