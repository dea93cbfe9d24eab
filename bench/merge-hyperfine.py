#!/usr/bin/env python3
"""Merge hyperfine --export-json files of the same commands into one.

    bench/merge-hyperfine.py OUT.json IN.json...

For each command (by its -n name), the runs of every input are pooled:
`times`, `user` and `system` per run; `mean`, `median`, `min`, `max` and
`stddev` are computed again from the pooled times, and `user`/`system`
are their means, as hyperfine writes them. The commands keep the order of
the first input. bench/run.sh runs a comparison in rounds with the order
of the tools reversed every other round, so that a slow phase of the
machine is shared rather than charged to whichever tool ran then.
"""
import json
import statistics
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, inputs = sys.argv[1], sys.argv[2:]
    pooled: dict[str, dict[str, list[float]]] = {}
    order: list[str] = []
    for path in inputs:
        try:
            results = json.load(open(path))["results"]
        except (OSError, ValueError, KeyError) as e:
            print(f"merge-hyperfine: {path}: {e}", file=sys.stderr)
            continue
        for r in results:
            name = r["command"]
            if name not in pooled:
                pooled[name] = {"times": [], "user": [], "system": []}
                order.append(name)
            p = pooled[name]
            p["times"] += r.get("times") or []
            p["user"] += r.get("user_times") or [r["user"]] * len(r.get("times") or [])
            p["system"] += r.get("system_times") or [r["system"]] * len(r.get("times") or [])
    results = []
    for name in order:
        t = pooled[name]["times"]
        if not t:
            continue
        results.append({
            "command": name,
            "mean": statistics.fmean(t),
            "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
            "median": statistics.median(t),
            "user": statistics.fmean(pooled[name]["user"]),
            "system": statistics.fmean(pooled[name]["system"]),
            "min": min(t),
            "max": max(t),
            "times": t,
        })
    if not results:
        print("merge-hyperfine: no runs to merge", file=sys.stderr)
        return 1
    json.dump({"results": results}, open(out, "w"), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
