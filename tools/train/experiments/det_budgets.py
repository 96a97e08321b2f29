#!/usr/bin/python3
"""Lowest FRR at FA/hour budgets, read from det.csv files of `edgekws-model evaluate` (the "test sweep" and "validation
streams" rows of docs/model-loop.md "What was tried"), one row per model:

    tools/train/experiments/det_budgets.py B=models/default/hey-edge-1.3.0.det.csv J2=artifacts/m23/eval-test/det.csv [--budgets 0.5,1,2,5,10]
"""
import argparse
import csv
import sys


def lowest_frr(rows, budget):
    ok = [r for r in rows if r["fa_per_hour"] <= budget]
    return min(r["frr"] for r in ok) if ok else None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("curves", nargs="+", metavar="LABEL=DET_CSV")
    p.add_argument("--budgets", default="0.5,1,2,5,10", help="FA/hour budgets, comma-separated")
    a = p.parse_args(argv)
    budgets = [float(b) for b in a.budgets.split(",")]
    print("%-24s" % "model" + "".join("%9s" % f"<={b:g}" for b in budgets))
    for arg in a.curves:
        label, sep, path = arg.partition("=")
        if not sep:
            p.error(f"'{arg}' is not LABEL=DET_CSV")
        with open(path, newline="", encoding="utf-8") as f:
            rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
        cells = [lowest_frr(rows, b) for b in budgets]
        print("%-24s" % label + "".join("%9s" % ("n/a" if c is None else f"{100 * c:.1f} %") for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
