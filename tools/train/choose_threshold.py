#!/usr/bin/python3
"""Choose the deployed detection threshold from a streaming evaluation of the VALIDATION streams.

    /usr/bin/python3 tools/train/choose_threshold.py --det VALIDATION/det.csv [--max-fa-per-hour 0.5] [--out choice.json]

Input: the det.csv that `edgekws-model evaluate --split validation` writes (threshold, false_accepts,
negative_hours, fa_per_hour, missed_keywords, keywords, frr: the real detector's firing rules replayed at
every threshold of the sweep). Never feed it the test streams' curve: that would tune on the held-out set.

Rule: among the thresholds whose validation FA/hour is at most --max-fa-per-hour, the one with the lowest
FRR; ties go to the highest such threshold (the most margin against false accepts on unseen audio). If no
threshold meets the FA/hour bound, the one with the fewest false accepts (then lowest FRR, then highest).
Prints the threshold on the last line; --out also writes the choice with the point it was read from.
"""

import argparse
import csv
import json
import sys


def main(argv):
    p = argparse.ArgumentParser(description="Choose the deployed threshold on validation streams (docs/model-loop.md).")
    p.add_argument("--det", required=True, help="det.csv of `edgekws-model evaluate --split validation`")
    p.add_argument("--max-fa-per-hour", type=float, default=0.5)
    p.add_argument("--out", help="write the choice as JSON here")
    a = p.parse_args(argv)
    try:
        with open(a.det, newline="", encoding="utf-8") as f:
            rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    except (OSError, ValueError, KeyError) as e:
        print(f"choose_threshold.py: error: cannot read {a.det}: {e}", file=sys.stderr)
        return 2
    needed = {"threshold", "false_accepts", "negative_hours", "fa_per_hour", "missed_keywords", "keywords", "frr"}
    if not rows or not needed <= set(rows[0]):
        print(f"choose_threshold.py: error: {a.det} is not a det.csv (columns {sorted(needed)})", file=sys.stderr)
        return 2
    ok = [r for r in rows if r["fa_per_hour"] <= a.max_fa_per_hour]
    if ok:
        best = min(ok, key=lambda r: (r["frr"], -r["threshold"]))
        rule = f"lowest validation FRR with FA/hour <= {a.max_fa_per_hour}; ties to the highest threshold"
    else:
        best = min(rows, key=lambda r: (r["false_accepts"], r["frr"], -r["threshold"]))
        rule = f"no threshold reaches FA/hour <= {a.max_fa_per_hour}: fewest validation false accepts"
    choice = {"threshold": best["threshold"], "rule": rule, "validation": {
        "faPerHour": best["fa_per_hour"], "falseAccepts": int(best["false_accepts"]), "negativeHours": best["negative_hours"],
        "frr": best["frr"], "missedKeywords": int(best["missed_keywords"]), "keywords": int(best["keywords"])}}
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(choice, f, indent=2)
            f.write("\n")
    print(json.dumps(choice["validation"]), file=sys.stderr)
    print(repr(best["threshold"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
