#!/usr/bin/env python3
"""Render bench/run.sh rows (hyperfine JSON per input and mode) as markdown.

Per tool: median wall time, MB/s of uncompressed output (10^6 bytes per
second, output volume = bytes kbinspect decodes), mean user+sys CPU seconds,
peak RSS, and the peer/kbinspect ratio of median wall times (> 1.0 means
kbinspect is faster)."""
import json
import sys

rows_path = sys.argv[1]
print("| input | mode | output MB | tool | median s | MB/s | CPU s | peak RSS MB | peer÷kbinspect |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|")
scaling = []
for line in open(rows_path):
    name, mode, nbytes, jpath, *rss = line.rstrip("\n").split("\t")
    nbytes = int(nbytes)
    try:
        results = json.load(open(jpath))["results"]
    except (OSError, ValueError, KeyError):
        continue
    rss_by_tool = {}
    names = [r["command"] for r in results]
    order = ["kbinspect", "cabextract", "7zz"] if mode != "verify" else ["kbinspect", "cabextract+sha256sum"]
    # rss columns are always kbinspect, cabextract(+sha256sum), 7zz
    for tool, v in zip(order + ["7zz"] * (3 - len(order)), rss):
        rss_by_tool.setdefault(tool, v)
    kb = next((r for r in results if r["command"] == "kbinspect"), None)
    for r in results:
        med = r["median"]
        cpu = r["user"] + r["system"]
        ratio = ""
        if kb and r["command"] != "kbinspect":
            ratio = f"{med / kb['median']:.2f}"
        v = rss_by_tool.get(r["command"], "-")
        rss_mb = f"{int(v) / 1024:.1f}" if v not in ("-", "") else "-"
        print(
            f"| {name} | {mode} | {nbytes / 1e6:.1f} | {r['command']} | {med:.3f} | "
            f"{nbytes / 1e6 / med:.0f} | {cpu:.2f} | {rss_mb} | {ratio} |"
        )
        if mode == "test" and name.startswith("large-") and name.endswith(".cab"):
            scaling.append((r["command"], nbytes, med))

if scaling:
    print()
    print("Growth with package size (test mode, generated CABs): seconds per 100 MB of output")
    print()
    print("| tool | " + " | ".join(f"{b / 1e6:.0f} MB" for b in sorted({b for _, b, _ in scaling})) + " |")
    print("|---|" + "---:|" * len({b for _, b, _ in scaling}))
    for tool in dict.fromkeys(t for t, _, _ in scaling):
        cells = [f"{m / (b / 1e8):.3f}" for t, b, m in sorted(scaling, key=lambda x: x[1]) if t == tool]
        print(f"| {tool} | " + " | ".join(cells) + " |")
