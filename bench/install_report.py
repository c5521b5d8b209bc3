#!/usr/bin/env python3
"""Render bench/out/install/results.jsonl (written by bench/install.sh) as the section
"GOG installs (V2 chunks, V1 main.bin)" of BENCHMARKS.md.

Usage: install_report.py RESULTS.jsonl BENCHMARKS.md

The section sits between BEGIN/END marker comments: it is replaced in place if present,
appended otherwise, and everything else in the file (the `get` report of bench/run.sh) is kept.
If the file does not exist it is created with a short header. Every number comes from the
results file; nothing is typed in.
"""
import json
import re
import statistics
import sys

from section import splice

BEGIN = "<!-- BEGIN install-bench (bench/install.sh; bench/install_report.py) -->"
END = "<!-- END install-bench -->"
TITLE = "## GOG installs (V2 chunks, V1 main.bin)"
MIB = 1048576

# Targets (from the issue): uncapped MiB/s, CPU-s per 512 MiB, RssAnon MiB, capped share.
T_V2_MIBS = 350
T_V1_MIBS = 400
T_V2_CPU_512 = 2.5
T_RSS_MIB = 48
T_SHARE = 0.90


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def verdict(ok):
    return "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")


def f(x, nd=2):
    return "n/a" if x is None else f"{x:.{nd}f}"


def pct(x):
    return "n/a" if x is None else f"{x:.0%}"


def perf_split(perf):
    """Self-time % of the listed symbols by category."""
    cats = {
        "MD5, one stream (md-5)": 0.0,
        "MD5, lock step (md5x)": 0.0,
        "inflate": 0.0,
        "kernel": 0.0,
        "other user space": 0.0,
    }
    for p, sym in perf["symbols"]:
        low = sym.lower()
        if "[k]" in sym:
            cats["kernel"] += p
        elif "md5x" in low:
            cats["MD5, lock step (md5x)"] += p
        elif "md5" in low:
            cats["MD5, one stream (md-5)"] += p
        elif "zlib" in low or "inflate" in low or "adler" in low or "miniz" in low:
            cats["inflate"] += p
        else:
            cats["other user space"] += p
    return cats


def summarize(runs, nproc):
    """Medians of one (scenario, product) group."""
    if not runs:
        return None
    runs = sorted(runs, key=lambda r: r["round"])
    s = {}
    s["n"] = len(runs)
    s["wall"] = med(r["wall_s"] for r in runs)
    s["mibs"] = med(r["bytes"] / MIB / r["wall_s"] for r in runs)
    s["bytes"] = med(r["bytes"] for r in runs)
    s["cpu"] = med(r["user_s"] + r["sys_s"] for r in runs)
    s["user"] = med(r["user_s"] for r in runs)
    s["sys"] = med(r["sys_s"] for r in runs)
    s["cpu_512"] = med((r["user_s"] + r["sys_s"]) * 512 * MIB / r["bytes"] for r in runs)
    s["mock_cpu"] = med(r["mock_cpu_s"] for r in runs)
    s["client_share"] = med((r["user_s"] + r["sys_s"]) / (nproc * r["wall_s"]) for r in runs)
    s["mock_share"] = med(r["mock_cpu_s"] / (nproc * r["wall_s"]) for r in runs)
    s["body"] = med(r["mock_body_bytes"] for r in runs)
    s["machine"] = med(r.get("machine_busy_s") for r in runs)
    s["machine_share"] = med(
        r["machine_busy_s"] / (nproc * r["wall_s"]) for r in runs if r.get("machine_busy_s") is not None
    )
    s["others"] = med(
        max(r["machine_busy_s"] - r["user_s"] - r["sys_s"] - r["mock_cpu_s"], 0.0)
        for r in runs
        if r.get("machine_busy_s") is not None
    )
    # bytes on the wire (response bodies the mock wrote) per second: what a per-connection cap limits
    s["wire_mibs"] = med(r["mock_body_bytes"] / MIB / r["wall_s"] for r in runs)
    # bytes the install needed (galaxy-dl's "downloaded"), per second: the useful wire rate. The
    # mock's body bytes can be higher: when an idle worker fetches the rest of a chunk, the owner
    # drops its connection at the split point, and what the mock had already pushed into that
    # socket counts as sent.
    needed = [r for r in runs if r.get("needed_bytes") is not None]
    s["needed"] = med(r["needed_bytes"] for r in needed) if needed else None
    s["needed_mibs"] = med(r["needed_bytes"] / MIB / r["wall_s"] for r in needed) if needed else None
    s["main_bin"] = med(r["mock_main_bin_requests"] for r in runs)
    s["chunks"] = med(r["mock_chunk_requests"] for r in runs)
    s["requests"] = med(r["mock_requests"] for r in runs)
    s["conns"] = med(r["mock_connections"] for r in runs)
    s["log_main_bin"] = med(r.get("log_main_bin_requests") for r in runs)
    s["log_chunks"] = med(r.get("log_chunk_requests") for r in runs)
    s["files"] = med(r["files"] for r in runs)
    s["small"] = med(r["small_files"] for r in runs)
    s["maxrss"] = med(r["maxrss_kib"] for r in runs)
    s["rounds"] = ", ".join(f"{r['bytes'] / MIB / r['wall_s']:.0f}" for r in runs)
    s["loads"] = ", ".join(r["load"].split()[0] for r in runs)
    return s


def spread(xs, fmt="{:.2f}"):
    """`median (min–max)` of a list, or n/a."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


# Targets of issue 13 on the game-like product.
T_GAME_VS_PEER = 0.85  # galaxy-dl time / lgogdownloader time, V2 uncapped
T_GAME_V2_MIBS = 395
T_GAME_V2_CPU = 2.2  # CPU-s per 512 MiB
T_GAME_V1_MIBS = 650
T_GAME_SHARE = 0.93  # needed wire bytes / (8 x cap)


def game_section(w, allinst, meta, nproc, rate, workers):
    """Tables and ratios of the game-like products (1000000021/22) and the lgogdownloader peer."""
    rows = {}
    for r in allinst:
        if r["product"].startswith("game-"):
            tool = r.get("tool", "galaxy-dl")
            if tool == "galaxy-dl" and r.get("workers") != workers:
                tool = f"galaxy-dl --workers {r.get('workers')}"
            rows.setdefault((r["scenario"], tool, r["product"]), []).append(r)
    equal = sorted({k[1] for k in rows if k[1].startswith("galaxy-dl --workers")})
    if not rows:
        return
    w("### Game-like product: galaxy-dl beside lgogdownloader")
    w("")
    peer = meta.get("v_peer") or "lgogdownloader"
    w(
        f"`galaxy-dl-mock --bench-game-v2 {meta.get('game_mib')}M --bench-game-v1 {meta.get('game_mib')}M` "
        "(`mock/src/gog/game.rs`): 1000000021 \"Bench Game\" = 298 files from 1 KiB to ~21 % of the total "
        "(180 small ones also in small-files containers), ~40 % of the bytes incompressible, chunks ≤ 10 MiB "
        "inflated, ≈ 0.69 of the inflated size on the wire; 1000000022 = its V1 twin (302 files in one "
        f"`main.bin`). galaxy-dl: `download ID --workers {workers}`. Peer: {peer}, `--galaxy-install "
        f"1000000021/0 --threads {meta.get('peer_threads', 4)}` (`bench/peer.sh`: its API calls go through "
        "nginx + TLS on 127.0.0.1:443 with a local CA, the GOG names resolved to loopback in a private mount "
        "namespace; its chunk GETs go, like galaxy-dl's, over plain HTTP to the mock). lgogdownloader refuses "
        "V1 builds, so the V1 twin has no peer. lgogdownloader checks no MD5 while installing; its output is "
        "checked afterwards with `md5sum -c` against the manifest MD5s, and that time is shown as its cost of a "
        "*verified* install. Values: median (min–max) over rounds; CPU % = (user+sys) / wall, of "
        f"{nproc * 100} % for {nproc} CPUs. Peak RSS = `/usr/bin/time`'s maximum resident set (it counts "
        "galaxy-dl's mapped output pages too, so it is not the RssAnon of the table above; lgogdownloader holds "
        "each whole chunk in memory)."
    )
    w("")
    w(
        "| scenario | tool | product | rounds | installed MiB | wall s | MiB/s | CPU-s (user+sys) | CPU % "
        "| CPU-s per 512 MiB | mock CPU-s | nginx CPU-s | + md5sum -c: wall s, CPU-s | wire MiB/s (needed) "
        f"| share of {workers} × cap | chunk GETs | connections | files | peak RSS MiB | load (1 min) |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    med_of = {}
    for scen in ("uncapped", "capped"):
        order = [("galaxy-dl", "game-v2"), ("lgogdownloader", "game-v2")] + [(t, "game-v2") for t in equal]
        for tool, prod in order + [("galaxy-dl", "game-v1")]:
            rs = rows.get((scen, tool, prod))
            if not rs:
                continue
            wall = [r["wall_s"] for r in rs]
            cpu = [r["user_s"] + r["sys_s"] for r in rs]
            mibs = [r["bytes"] / MIB / r["wall_s"] for r in rs]
            cpu512 = [(r["user_s"] + r["sys_s"]) * 512 * MIB / r["bytes"] for r in rs]
            pctcpu = [100 * (r["user_s"] + r["sys_s"]) / r["wall_s"] for r in rs]
            needed = [(r["needed_bytes"] if r.get("needed_bytes") is not None else r["mock_body_bytes"]) for r in rs]
            wire = [n / MIB / r["wall_s"] for n, r in zip(needed, rs)]
            share = [x / (workers * rate) for x in wire] if scen == "capped" and rate else []
            vwall = [r["wall_s"] + r["verify_wall_s"] for r in rs if r.get("verify_wall_s") is not None]
            vcpu = [
                r["user_s"] + r["sys_s"] + r["verify_user_s"] + r["verify_sys_s"]
                for r in rs
                if r.get("verify_wall_s") is not None
            ]
            verified = f"{spread(vwall)}, {spread(vcpu)}" if vwall else "— (checked while downloading)"
            nginx = spread([r.get("nginx_cpu_s") for r in rs]) if tool == "lgogdownloader" else "–"
            w(
                f"| {scen} | {tool} | {prod} | {len(rs)} | {med([r['bytes'] for r in rs]) / MIB:.1f} "
                f"| {spread(wall, '{:.3f}')} | {spread(mibs, '{:.1f}')} | {spread(cpu)} | {spread(pctcpu, '{:.0f}')} "
                f"| {spread(cpu512)} | {spread([r['mock_cpu_s'] for r in rs])} | {nginx} | {verified} "
                f"| {spread(wire, '{:.1f}')} | {spread(share, '{:.3f}') if share else '–'} "
                f"| {med([r['mock_chunk_requests'] for r in rs]):.0f} | {med([r['mock_connections'] for r in rs]):.0f} "
                f"| {med([r['files'] for r in rs]):.0f} | {spread([r['maxrss_kib'] / 1024 for r in rs], '{:.0f}')} "
                f"| {', '.join(r['load'].split()[0] for r in rs)} |"
            )
            med_of[(scen, tool, prod)] = {
                "wall": med(wall),
                "cpu": med(cpu),
                "mibs": med(mibs),
                "cpu512": med(cpu512),
                "vwall": med(vwall) if vwall else None,
                "share": med(share) if share else None,
                "slowest": max(wall) / med(wall) if wall else None,
            }
    w("")
    v1probe = meta.get("_peer_v1")
    if v1probe:
        w(
            f"lgogdownloader asked for the V1 twin (`--galaxy-install {v1probe['id']}/0`): exit {v1probe['exit']}, "
            f"\"{v1probe['said']}\", {v1probe['files']} files written."
        )
        w("")
    w("| game-product target (issue 13) | measured | verdict |")
    w("|---|---|---|")
    g, p = med_of.get(("uncapped", "galaxy-dl", "game-v2")), med_of.get(("uncapped", "lgogdownloader", "game-v2"))
    if g and p:
        ratio = g["wall"] / p["wall"]
        w(
            f"| V2 uncapped: galaxy-dl time ≤ {T_GAME_VS_PEER} × lgogdownloader's | {g['wall']:.3f} s / {p['wall']:.3f} s "
            f"= **{ratio:.2f}×** (CPU-s {g['cpu']:.2f} vs {p['cpu']:.2f} = {g['cpu'] / p['cpu']:.2f}×) | {verdict(ratio <= T_GAME_VS_PEER)} |"
        )
        if p["vwall"]:
            w(
                f"| V2 uncapped, to a verified install: galaxy-dl vs lgogdownloader + md5sum -c (no target) "
                f"| {g['wall']:.3f} s / {p['vwall']:.3f} s = {g['wall'] / p['vwall']:.2f}× | n/a |"
            )
    if g:
        w(f"| V2 uncapped ≥ {T_GAME_V2_MIBS} MiB/s | {g['mibs']:.1f} MiB/s | {verdict(g['mibs'] >= T_GAME_V2_MIBS)} |")
        w(
            f"| V2 uncapped ≤ {T_GAME_V2_CPU} CPU-s per 512 MiB | {g['cpu512']:.2f} CPU-s "
            f"| {verdict(g['cpu512'] <= T_GAME_V2_CPU)} |"
        )
    g1 = med_of.get(("uncapped", "galaxy-dl", "game-v1"))
    if g1:
        w(f"| V1 uncapped ≥ {T_GAME_V1_MIBS} MiB/s, MD5 included | {g1['mibs']:.1f} MiB/s | {verdict(g1['mibs'] >= T_GAME_V1_MIBS)} |")
    for prod, name in (("game-v2", "V2"), ("game-v1", "V1")):
        c = med_of.get(("capped", "galaxy-dl", prod))
        if c and c["share"] is not None:
            w(
                f"| {name} paced: needed wire bytes / ({workers} × cap) ≥ {T_GAME_SHARE} | {c['share']:.3f} "
                f"(slowest run {c['slowest']:.2f}× the median) | {verdict(c['share'] >= T_GAME_SHARE)} |"
            )
    for t in equal:
        ge, pe = med_of.get(("uncapped", t, "game-v2")), p
        if ge and pe:
            w(
                f"| V2 uncapped, same connection count: `{t}` time / lgogdownloader's (no target) "
                f"| {ge['wall'] / pe['wall']:.2f}× (CPU-s {ge['cpu'] / pe['cpu']:.2f}×) | n/a |"
            )
        ce = med_of.get(("capped", t, "game-v2"))
        if ce and ce["share"] is not None:
            w(f"| `{t}` paced: needed wire bytes / ({workers} × cap) (no target) | {ce['share']:.3f} | n/a |")
    cp = med_of.get(("capped", "lgogdownloader", "game-v2"))
    if cp and cp["share"] is not None:
        w(
            f"| lgogdownloader paced, same measure (no target; {meta.get('peer_threads', 4)} connections at most) "
            f"| {cp['share']:.3f} | n/a |"
        )
    w("")


def render(recs):
    meta = next((r for r in recs if r["kind"] == "meta"), {})
    end = next((r for r in recs if r["kind"] == "end"), {})
    pacing = next((r for r in recs if r["kind"] == "pacing"), None)
    allinst = [r for r in recs if r["kind"] == "install"]
    # The easy products' tables: galaxy-dl on v2/v1 (records without `tool` are older galaxy-dl runs).
    inst = [r for r in allinst if r.get("tool", "galaxy-dl") == "galaxy-dl" and r["product"] in ("v2", "v1")]
    inst = [r for r in inst if r.get("workers", meta.get("workers")) == meta.get("workers")]
    rss = {r["product"]: r for r in recs if r["kind"] == "rss"}
    micro = [r for r in recs if r["kind"] == "micro"]
    perf = next((r for r in recs if r["kind"] == "perf"), None)
    nproc = meta.get("nproc", 2)
    size = meta.get("size_mib")
    rate = meta.get("rate_mib")
    workers = meta.get("workers")

    S = {}
    for scen in ("uncapped", "capped"):
        for p in ("v2", "v1"):
            S[(scen, p)] = summarize([r for r in inst if r["scenario"] == scen and r["product"] == p], nproc)

    L = []
    w = L.append
    w(BEGIN)
    w(TITLE)
    w("")
    if not inst:
        w(
            "Generated by `bash bench/install.sh` (here run by `bench/all.sh` on the game-like products "
            f"only): `galaxy-dl download ID --dir DIR --workers {workers}` against `galaxy-dl-mock` (release "
            "builds) on 127.0.0.1, a fresh install directory on the repo's filesystem for every run, tools "
            "interleaved and rotated within rounds."
        )
    else:
        w(
            "Generated by `bash bench/install.sh` (see `bench/README.md`): `galaxy-dl download ID --dir DIR "
            f"--workers {workers}` against `galaxy-dl-mock --bench-v2 {size}M --bench-v1 {size}M` (release builds) "
            "on 127.0.0.1, a fresh install directory on the repo's filesystem for every run, tools and "
            "products interleaved within rounds; every number below is read from "
            "`bench/out/install/results.jsonl` by `bench/install_report.py`. Medians over rounds. "
            "1000000004 \"Bench V2\" = 4 files in 10 MiB zlib chunks (~1.56:1; compressed MD5, Adler-32 and "
            "file MD5 checked); 1000000005 \"Bench V1\" = one `main.bin`, ~1000 small files (1–32 KiB) and up "
            "to 8 large ones, every file's MD5 checked."
        )
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| date | {meta.get('date', 'n/a')} (finished {end.get('date_end', 'n/a')}) |")
    w(f"| CPUs (`nproc`) | {nproc} |")
    w(f"| CPU model | {meta.get('cpu', 'n/a')} |")
    w(f"| memory | {meta.get('mem_total', 'n/a')} |")
    w(f"| kernel | {meta.get('kernel', 'n/a')} |")
    w(f"| filesystem of the install dirs (`bench/out/install`) | {meta.get('fstype', 'n/a')} |")
    w(f"| galaxy-dl | {meta.get('v_galaxy_dl', 'n/a')}, {meta.get('v_rustc', '')}, commit {meta.get('repo_commit', 'n/a')} |")
    w(
        f"| parameters | SIZE_MIB={size}, RATE_MIB={rate} (per TCP connection), WORKERS={workers}, "
        f"ROUNDS={meta.get('rounds')} |"
    )
    loads = [float(r["load"].split()[0]) for r in allinst]
    lr = f"{min(loads):.2f}–{max(loads):.2f}" if loads else "n/a"
    w(
        f"| load average (1/5/15 min) | {meta.get('load_start', 'n/a')} at start, {end.get('load_end', 'n/a')} at "
        f"the end; 1-min {lr} before the timed runs (shared 2-core machine: other developers' builds "
        "and the harness's own previous runs count; ≫ 1 means the numbers are pessimistic) |"
    )
    w("")

    def table(scen, title, note):
        rows = [(p, S[(scen, p)]) for p in ("v2", "v1") if S[(scen, p)]]
        if not rows:
            return
        w(f"### {title}")
        w("")
        w(note)
        w("")
        w(
            "| product | installed MiB | median wall s | median MiB/s | wire MiB, median wire MiB/s | galaxy-dl CPU s (user+sys) | CPU s per 512 MiB "
            "| mock server CPU s | machine share: galaxy-dl / mock / whole machine | other processes' CPU s | requests (main.bin / chunk / all) "
            "| connections | per-round MiB/s | per-round load |"
        )
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for p, s in rows:
            name = "V2 (1000000004)" if p == "v2" else "V1 (1000000005)"
            w(
                f"| {name} | {s['bytes'] / MIB:.1f} | {s['wall']:.3f} | {s['mibs']:.1f} "
                f"| {s['body'] / MIB:.1f}, {s['wire_mibs']:.1f} | {s['cpu']:.2f} "
                f"({s['user']:.2f} + {s['sys']:.2f}) | {s['cpu_512']:.2f} | {s['mock_cpu']:.2f} "
                f"| {s['client_share']:.0%} / {s['mock_share']:.0%} / {pct(s['machine_share'])} "
                f"| {f(s['others'])} | {s['main_bin']:.0f} / {s['chunks']:.0f} / "
                f"{s['requests']:.0f} | {s['conns']:.0f} | {s['rounds']} | {s['loads']} |"
            )
        w("")

    table(
        "uncapped",
        "Uncapped loopback",
        "MiB/s = installed bytes (files on disk, journal excluded) / wall seconds; wire = response body bytes "
        "the mock sent (V2: compressed chunks, ~1/1.56 of the installed bytes; V1: main.bin ranges). CPU of galaxy-dl from "
        "`/usr/bin/time` (user+sys); the mock's CPU from `/proc/PID/stat` utime+stime before/after the run. "
        f"Machine share = CPU seconds / ({nproc} CPUs × wall); whole machine = busy time of all CPUs from "
        "`/proc/stat` during the run, and other processes' CPU = that minus galaxy-dl and the mock (other "
        "developers' builds on this shared machine). Request counts are the mock's own counters "
        "(`galaxy-dl-mock --stats-file`).",
    )
    if pacing:
        w(
            f"Per-connection cap check (before the capped runs): one `curl -o /dev/null` from "
            f"`galaxy-dl-mock --blob {pacing['check_mib']}M --pace {pacing['cap_bps']}` ran at "
            f"**{pacing['speed_bps'] / MIB:.2f} MiB/s = {pacing['ratio']:.3f} × cap** in {pacing['time_s']:.2f} s "
            f"({'in force' if pacing['ok'] else 'NOT in force'}; required 0.95–1.05). `--pace` sets "
            "`SO_MAX_PACING_RATE` on the mock's listening socket; accepted sockets inherit it."
        )
        w("")
    table(
        "capped",
        f"Capped: {rate} MiB/s per TCP connection (kernel pacing), {workers} workers",
        f"Same columns. The cap limits bytes on the wire, so the share of {workers} × {rate} MiB/s in the targets "
        "below is the needed wire bytes (what galaxy-dl reports as downloaded: the product's compressed size) "
        "per second / (workers × cap); for V2 the installed (inflated) rate is ~1.56× the wire rate and "
        "can exceed workers × cap.",
    )

    if rss:
        w("### Peak anonymous memory")
        w("")
        w(
            "Separate uncapped runs under `bench/peak_rss.py` (`/proc/PID/status` every 10 ms); RssAnon "
            "excludes the mapped output files."
        )
        w("")
        w("| product | workers | peak RssAnon MiB | peak RssFile MiB | samples |")
        w("|---|---|---|---|---|")
        for p in ("v2", "v1"):
            r = rss.get(p)
            if r:
                w(
                    f"| {p.upper()} | {r['workers']} | {r['anon_kib'] / 1024:.2f} | {r['file_kib'] / 1024:.1f} "
                    f"| {r['samples']} |"
                )
        w("")

    meta = dict(meta, _peer_v1=next((r for r in recs if r["kind"] == "peer_v1"), None))
    game_section(w, allinst, meta, nproc, rate, workers)
    if not inst:  # game products only (bench/all.sh): the easy products' targets and analysis do not apply
        w(END)
        return "\n".join(L) + "\n"

    # ---- targets
    w("### Targets")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    u2, u1 = S[("uncapped", "v2")], S[("uncapped", "v1")]
    c2, c1 = S[("capped", "v2")], S[("capped", "v1")]

    def ctx(s):
        """Machine context of a group of runs, for MiB/s verdicts."""
        if s is None or s["machine_share"] is None:
            return ""
        return (
            f"; whole machine {s['machine_share']:.0%} busy (galaxy-dl {s['cpu']:.2f} CPU-s, mock {s['mock_cpu']:.2f}, "
            f"other processes {s['others']:.2f}), load {s['loads']}"
        )
    if u2:
        w(f"| V2 uncapped ≥ {T_V2_MIBS} MiB/s | {u2['mibs']:.1f} MiB/s{ctx(u2)} | {verdict(u2['mibs'] >= T_V2_MIBS)} |")
        w(
            f"| V2 uncapped: galaxy-dl CPU ≤ {T_V2_CPU_512} CPU-s per 512 MiB | {u2['cpu_512']:.2f} CPU-s "
            f"(mock server: {u2['mock_cpu'] * 512 * MIB / u2['bytes']:.2f}) | {verdict(u2['cpu_512'] <= T_V2_CPU_512)} |"
        )
    for p in ("v2", "v1"):
        r = rss.get(p)
        if r:
            m = r["anon_kib"] / 1024
            w(
                f"| {p.upper()} peak RssAnon ≤ {T_RSS_MIB} MiB, {r['workers']} workers | {m:.2f} MiB "
                f"| {verdict(m <= T_RSS_MIB)} |"
            )
    if u1:
        w(
            f"| V1 uncapped ≥ {T_V1_MIBS} MiB/s (every file's MD5 checked) | {u1['mibs']:.1f} MiB/s{ctx(u1)} "
            f"| {verdict(u1['mibs'] >= T_V1_MIBS)} |"
        )
        per1000 = u1["main_bin"] * 1000 / u1["small"] if u1["small"] else None
        logtxt = (
            f"; galaxy-dl's own log: {u1['log_main_bin']:.0f} main.bin range requests"
            if u1["log_main_bin"] is not None
            else ""
        )
        w(
            f"| V1: main.bin requests per 1000 small files (no target; lower = better coalescing) | "
            f"{u1['main_bin']:.0f} main.bin GETs for {u1['files']:.0f} files, {u1['small']:.0f} of them ≤ 32 KiB → "
            f"**{f(per1000, 1)} per 1000 small files**{logtxt} | n/a |"
        )
    for name, c in (("V2", c2), ("V1", c1)):
        if c:
            # The useful rate (bytes the install needed / wall) when known; never the mock's
            # body bytes, which also count bytes sent into connections dropped at a split point.
            useful = c["needed_mibs"] if c["needed_mibs"] is not None else c["wire_mibs"]
            share = useful / (workers * rate)
            sent = (
                f"; the mock sent {c['body'] / MIB:.1f} MiB ({c['wire_mibs']:.1f} MiB/s), the extra being bytes "
                "pushed into connections dropped at a split point"
                if c["needed"] is not None and c["body"] > c["needed"] * 1.001
                else ""
            )
            w(
                f"| {name} capped: wire rate ≥ {T_SHARE:.2f} of {workers} × {rate} MiB/s | {useful:.1f} MiB/s "
                f"of needed bytes = {share:.3f} (installed {c['mibs']:.1f} MiB/s{sent}){ctx(c)} "
                f"| {verdict(share >= T_SHARE)} |"
            )
    w("")
    notes = []
    for name, c in (("V2", c2), ("V1", c1)):
        if c and c["others"] is not None:
            ideal = c["body"] / MIB / (workers * rate)
            need = (c["cpu"] + c["mock_cpu"]) / ideal
            left = nproc - c["others"] / c["wall"]
            notes.append(
                f"{name} at the full cap would take {ideal:.2f} s and need {need:.2f} CPUs for galaxy-dl + mock "
                f"({c['cpu'] + c['mock_cpu']:.2f} CPU-s); other processes left ≈{left:.2f} of the {nproc} CPUs "
                f"during the capped runs"
            )
    if notes:
        w(
            "Capped runs in CPU terms: " + "; ".join(notes) + ". Where the needed CPUs approach or exceed what "
            "was left, the miss is CPU contention on this shared machine rather than the connection handling; "
            "rerun when the load average is below 1 to separate the two."
        )
        w("")
    if not any(r.get("tool") == "lgogdownloader" for r in allinst):
        w(
            "For scale only (quoted in the issue, not measured in this run: no lgogdownloader peer"
            + (f" — {meta['peer_why']}" if meta.get("peer_why") else "")
            + "): lgogdownloader 350 MiB/s and heroic-gogdl 126–133 MiB/s uncapped."
        )
        w("")

    # ---- micro
    inflate_rate = {}
    md5_rate = None
    if micro:
        w("### flate2 backends and md-5 on this machine (one thread, in memory)")
        w("")
        w(
            "`bench/inflate/` (a throwaway crate outside the workspace, built once per backend): 256 MiB of the "
            "mock's bench data (`fill_compressible`) in 10 MiB chunks, encoded with the mock's `rle_zlib` "
            "exactly as served for 1000000004, inflated with `Decompress::decompress` into a preallocated "
            "buffer; plus 64 MiB of the same data deflated at level 6 by the backend itself, and 64 MiB of real "
            "executables/libraries from `/usr/lib/x86_64-linux-gnu` at level 6 (the corpus kind of engineering notes "
            "2c). MD5 = md-5 0.11 "
            "over 256 MiB in 1 MiB updates. MB/s of *output* bytes (10^6); median of the per-invocation "
            "medians (5 repetitions each, invocations interleaved across backends)."
        )
        w("")
        w("| measurement | backend | invocations | median MB/s | MiB/s | median of best-of-5 MB/s | best MB/s | compression ratio |")
        w("|---|---|---|---|---|---|---|---|")
        groups = {}
        for m in micro:
            groups.setdefault((m["what"], m["backend"]), []).append(m)
        for (what, be), ms in groups.items():
            mb = med(m["median_mb_s"] for m in ms)
            best = max(m["best_mb_s"] for m in ms)
            ratio = ms[0].get("ratio")
            mbest = med(m["best_mb_s"] for m in ms)
            w(
                f"| {what} | {be} | {len(ms)} | {mb:.1f} | {mb * 1e6 / MIB:.1f} | {mbest:.1f} | {best:.1f} "
                f"| {f(ratio, 3) if ratio else '–'} |"
            )
            if what.startswith("inflate mock"):
                inflate_rate[be] = mb * 1e6
            if what.startswith("md5"):
                md5_rate = mb * 1e6
        def rate(what, be, key):
            return med(m[key] for m in micro if m["what"].startswith(what) and m["backend"].startswith(be))

        lines = []
        for what, label in (
            ("inflate mock", "the served (rle_zlib) chunks"),
            ("inflate same", "the same data at level 6"),
            ("inflate real", "real binaries at level 6"),
        ):
            zm, mm = rate(what, "zlib-rs", "median_mb_s"), rate(what, "rust_backend", "median_mb_s")
            zb, mb_ = rate(what, "zlib-rs", "best_mb_s"), rate(what, "rust_backend", "best_mb_s")
            if zm and mm:
                lines.append(f"{label}: zlib-rs ÷ miniz_oxide = {zm / mm:.2f} on medians, {zb / mb_:.2f} on best-of-5")
        if lines:
            w("")
            w(
                "Backend ratio — " + "; ".join(lines) + ". Invocations alternate between the two binaries, but "
                "the other load on this machine moves single runs by up to ±30 %, so only a ratio well away from "
                "1 across both columns is a real difference. The project uses "
                "`flate2 = { default-features = false, features = [\"zlib-rs\"] }` (engineering notes 2c measured "
                "451–474 vs 374–391 MB/s on real binaries; neither backend needs a C toolchain)."
            )
        w("")

    # ---- profile
    w("### What bounds the uncapped V2 install")
    w("")
    if u2:
        inflated = u2["bytes"]
        wire = u2["body"] or inflated / 1.56
        W, C, M = u2["wall"], u2["cpu"], u2["mock_cpu"]
        parts = [
            f"Median run: {inflated / MIB:.0f} MiB installed ({wire / MIB:.0f} MiB on the wire) in {W:.2f} s; "
            f"galaxy-dl used {C:.2f} CPU-s ({u2['user']:.2f} user + {u2['sys']:.2f} sys), the mock server only "
            f"{M:.2f} CPU-s: {u2['client_share']:.0%} and {u2['mock_share']:.0%} of {nproc} CPUs × wall."
        ]
        if u2["machine_share"] is not None:
            parts.append(
                f"The whole machine was {u2['machine_share']:.0%} busy during the run; other processes took "
                f"≈{u2['others']:.2f} CPU-s of it (1-min load {u2['loads']} before the rounds)."
            )
        zr = max((m["best_mb_s"] for m in micro if m["what"].startswith("inflate mock") and m["backend"] == "zlib-rs"),
                 default=None)
        md5b = max((m["best_mb_s"] for m in micro if m["what"].startswith("md5")), default=None)
        if zr and md5b:
            zr, md5b = zr * 1e6, md5b * 1e6
            t_inf = inflated / zr
            t_wire = wire / md5b
            t_scalar = (inflated + wire) / md5b
            parts.append(
                f"With the best single-thread rates measured above (least disturbed by the other load: zlib-rs "
                f"{zr / 1e6:.0f} MB/s, md-5 {md5b / 1e6:.0f} MB/s), inflating costs ≈{t_inf:.2f} CPU-s and MD5 of "
                f"the wire bytes ≈{t_wire:.2f} CPU-s; hashing the inflated bytes one stream at a time would cost "
                f"another ≈{inflated / md5b:.2f} CPU-s (≈{t_inf + t_scalar:.2f} CPU-s for inflate + MD5), but the "
                f"whole-file digests advance in lock step (`src/md5x.rs`, several files per AVX-512 instruction), "
                f"so galaxy-dl's measured total is {C:.2f} CPU-s ({u2['sys']:.2f} s of it kernel: socket receive "
                f"copies, page faults on the mapped files, writeback)."
            )
            parts.append(
                f"Ceilings on this 2-CPU box: galaxy-dl's measured {C:.2f} CPU-s spread over both CPUs "
                f"≈{inflated / MIB / (C / nproc):.0f} MiB/s; including the mock's CPU "
                f"≈{inflated / MIB / ((C + M) / nproc):.0f} MiB/s."
            )
        if perf:
            cats = perf_split(perf)
            tot = sum(cats.values())
            parts.append(
                "perf (top symbols, below) agrees: "
                + ", ".join(f"{k} {v:.0f} %" for k, v in sorted(cats.items(), key=lambda x: -x[1]))
                + f" of the samples (of {tot:.0f} % covered by the listed symbols)."
            )
        if perf:
            cats = perf_split(perf)
            top = sorted(cats.items(), key=lambda x: -x[1])
            parts.append(
                f"Verdict: the uncapped V2 install is bound by galaxy-dl's own CPU work — {top[0][0]} first, "
                f"{top[1][0]} second, {top[2][0]} third; HTTP (ureq) and the mock server are minor. The measured "
                "wall time is further stretched by the other developers' load on the same two CPUs, so the MiB/s "
                "figures here are a lower bound; the CPU-s figures are the more reliable comparison."
            )
        w(" ".join(parts))
        w("")
    if u1:
        per_range = 4 * MIB
        need = -(-int(u1["bytes"]) // per_range)
        w(
            f"V1 for comparison: {u1['cpu']:.2f} CPU-s ({u1['user']:.2f} user, mostly MD5 of every file, + "
            f"{u1['sys']:.2f} sys: ~{u1['files']:.0f} file creations, fallocate/mmap/msync per file, socket copies); "
            f"{u1['main_bin']:.0f} main.bin range GETs, where the default 4 MiB `--chunk-size` alone needs "
            f"≥ {need} for {u1['bytes'] / MIB:.0f} MiB — i.e. the ~{u1['small']:.0f} small files cost only "
            f"≈{max(u1['main_bin'] - need, 0):.0f} extra requests thanks to coalescing."
        )
        w("")
    if perf:
        w(
            "`perf record -g` (software `cpu-clock` sampling; this VM has no hardware counters) of one "
            "uncapped V2 install with a symbolized copy of the release build, self time by symbol:"
        )
        w("")
        w("| % | symbol |")
        w("|---|---|")
        for share, sym in perf["symbols"][:15]:
            sym = re.sub(r"(\s+-)+\s*$", "", sym)
            w(f"| {share:.2f} | `{sym.replace('|', '/')}` |")
        w("")
        if perf.get("dsos"):
            w("By object: " + ", ".join(f"{d} {p:.1f} %" for p, d in perf["dsos"][:5]) + ".")
            w("")
    w(END)
    return "\n".join(L) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    splice(
        sys.argv[2],
        render(load(sys.argv[1])),
        BEGIN,
        END,
        "# Benchmarks\n\n"
        "Not part of CI. Two harnesses write here: `bash bench/run.sh` (the `get` benchmark: "
        "`galaxy-dl get` vs curl and aria2c against local nginx; rendered by `bench/report.py`) and "
        "`bash bench/install.sh` (GOG installs against `galaxy-dl-mock`; the section below, rendered by "
        "`bench/install_report.py`). See `bench/README.md`. The `get` section has not been generated on "
        "this branch yet: run `bash bench/run.sh` (it keeps the install section).",
    )


if __name__ == "__main__":
    main()
