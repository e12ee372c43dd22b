#!/usr/bin/env python3
"""Compare detection-suite runs (runs.csv) with K simulated workers against one worker.

Usage: bench/workers_compare.py ONE/runs.csv K1/runs.csv [K2/runs.csv ...]
Prints, per scenario and algorithm (blb, blb-paper), over the seeds both runs share: the
detection delay with K workers minus that with one (median, and the range [lowest, highest],
in seconds), detections
lost and gained, the median largest share of attack sources (one worker -> K workers), and the
share of seconds within V (one worker -> K workers).
"""
import csv
import statistics
import sys
from collections import defaultdict


def load(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            rows[(r["scenario"], r["algorithm"], int(r["seed"]))] = r
    return rows


def num(v):
    """Seconds with their sign: +0, -0.5, +12."""
    text = f"{v:+.1f}"
    return text[:-2] if text.endswith(".0") else text


def within_v(rs):
    secs = sum(int(r["seconds"]) for r in rs)
    over = sum(int(r["seconds_over_v"]) for r in rs)
    return 100.0 * (secs - over) / secs if secs else float("nan")


def main(paths):
    one = load(paths[0])
    scenarios = list(dict.fromkeys(k[0] for k in one))
    for path in paths[1:]:
        other = load(path)
        print(f"\n== {path} against {paths[0]} ==")
        print("| scenario | algorithm | delay change, median [range] | lost / gained | "
              "largest share, 1 -> K | seconds within V, 1 -> K |")
        print("|---|---|---|---|---|---|")
        total = defaultdict(int)
        for sc in scenarios:
            for alg in ("blb", "blb-paper"):
                seeds = sorted(s for (c, a, s) in one if c == sc and a == alg
                               and (c, a, s) in other)
                if not seeds:
                    continue
                a = [one[(sc, alg, s)] for s in seeds]
                b = [other[(sc, alg, s)] for s in seeds]
                diffs, lost, gained = [], 0, 0
                for x, y in zip(a, b):
                    dx, dy = x["detection_secs"], y["detection_secs"]
                    if dx and dy:
                        diffs.append(float(dy) - float(dx))
                    elif dx and not dy:
                        lost += 1
                    elif dy and not dx:
                        gained += 1
                total[alg, "runs"] += len(seeds)
                total[alg, "lost"] += lost
                total[alg, "gained"] += gained
                total[alg, "same"] += sum(1 for d in diffs if d == 0)
                delay = (f"{num(statistics.median(diffs))} [{num(min(diffs))}, {num(max(diffs))}]"
                         if diffs else "-")
                share = (f"{100 * statistics.median(float(r['source_share']) for r in a):.0f} % -> "
                         f"{100 * statistics.median(float(r['source_share']) for r in b):.0f} %")
                print(f"| {sc} | {alg} | {delay} | {lost} / {gained} | {share} | "
                      f"{within_v(a):.1f} % -> {within_v(b):.1f} % |")
        for alg in ("blb", "blb-paper"):
            print(f"{alg}: {total[alg, 'runs']} runs; detection lost in {total[alg, 'lost']}, "
                  f"gained in {total[alg, 'gained']}; the same delay in {total[alg, 'same']}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
