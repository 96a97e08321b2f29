#!/usr/bin/python3
"""False accepts of a streaming evaluation by negative-stream segment kind (speech, near-miss, music, ...).

    /usr/bin/python3 tools/train/fa_breakdown.py --corpus CORPUS_DIR --detections EVAL_DIR/detections.csv [--split test]

Lines each detection in a negative stream up with the corpus ground truth: the segment under the middle
of the detector's last window (end_ms - 600 ms: a 980 ms window, posteriors averaged over the last three
inferences 100 ms apart). Time between segments (gaps over the noise floor) counts as "gap".
Prints a Markdown table: kind, hours, false accepts, FA/hour; then the target keywords of the positive
streams missed (no detection within [start, end + 1000 ms], the evaluator's tolerance) by TTS engine and SNR.
"""

import argparse
import bisect
import csv
import json
import os
import sys
from collections import Counter, defaultdict


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--detections", required=True)
    p.add_argument("--split", default="test", help="the split whose negative streams were evaluated (test, validation, train)")
    p.add_argument("--keyword", default="hey edge")
    a = p.parse_args(argv)
    with open(os.path.join(a.corpus, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    streams = {f["path"]: f for f in manifest["files"] if f["kind"] == "negative-stream" and f["split"] == a.split}
    hours, fas = Counter(), Counter()
    index = {}
    for path, f in streams.items():
        segs = sorted(f.get("segments") or [], key=lambda s: s["startMs"])
        covered = 0.0
        for s in segs:
            hours[s["kind"]] += (s["endMs"] - s["startMs"]) / 3.6e6
            covered += s["endMs"] - s["startMs"]
        hours["gap"] += (f["durationMs"] - covered) / 3.6e6
        index[path] = ([s["startMs"] for s in segs], segs)
    examples = defaultdict(list)
    with open(a.detections, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["stream"] not in index:
                continue
            t = float(row["end_ms"]) - 600
            starts, segs = index[row["stream"]]
            i = bisect.bisect_right(starts, t) - 1
            kind = segs[i]["kind"] if i >= 0 and segs[i]["endMs"] > t else "gap"
            fas[kind] += 1
            if len(examples[kind]) < 3:
                s = segs[i] if kind != "gap" else {}
                examples[kind].append(f"{row['stream']}@{float(row['end_ms']) / 1000:.1f}s {s.get('transcript') or s.get('noise') or ''}".strip())
    print("| negative segment kind | hours | false accepts | FA/hour |")
    print("|---|---|---|---|")
    for kind in sorted(hours, key=lambda k: (-fas[k], k)):
        h = hours[kind]
        print(f"| {kind} | {h:.2f} | {fas[kind]} | {fas[kind] / h:.2f} |" if h > 0 else f"| {kind} | 0 | {fas[kind]} | - |")
    positives = [f for f in manifest["files"] if f["kind"] == "positive-stream" and f["split"] == a.split]
    with open(a.detections, newline="", encoding="utf-8") as f:
        fired = defaultdict(list)
        for row in csv.DictReader(f):
            fired[row["stream"]].append(float(row["end_ms"]))
    by_engine, by_snr = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for f in positives:
        for e in f["keywordEvents"]:
            if e["keyword"] != a.keyword:
                continue
            missed = not any(e["startMs"] <= t <= e["endMs"] + 1000 for t in fired[f["path"]])
            for table, key in ((by_engine, e["speaker"].split("-")[0]), (by_snr, e.get("snrDb"))):
                table[key][0] += missed
                table[key][1] += 1
    if by_engine:
        print("\nmissed '" + a.keyword + "' by engine: " + ", ".join(f"{k} {m}/{n}" for k, (m, n) in sorted(by_engine.items())))
        print("missed by SNR dB: " + ", ".join(f"{k:g} {m}/{n}" for k, (m, n) in sorted(by_snr.items())))
    for kind, ex in examples.items():
        print(f"# {kind}: " + "; ".join(ex), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
