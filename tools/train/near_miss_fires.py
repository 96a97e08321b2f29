#!/usr/bin/env python3
"""Which near-miss phrases a model fired on: the detections of `edgekws-model evaluate` (detections.csv) matched to the
near-miss segments of a corpus split's negative streams (a detection counts when it falls inside the segment or up to
1.5 s after it, the evaluator's tolerance). Prints one line: {phrase: fires}.

    tools/train/near_miss_fires.py --corpus artifacts/default-model/corpus --detections EVAL/detections.csv [--split test]
"""
import argparse, collections, csv, glob, json, os


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--detections", required=True, help="detections.csv written by edgekws-model evaluate")
    p.add_argument("--split", default="test")
    a = p.parse_args()
    fires_at = collections.defaultdict(list)
    with open(a.detections) as f:
        for row in csv.DictReader(f):
            fires_at[os.path.basename(row["stream"])].append(float(row["end_ms"]))
    counts = collections.Counter()
    for path in sorted(glob.glob(os.path.join(a.corpus, a.split, "streams", "negative-*.json"))):
        with open(path) as f:
            stream = json.load(f)
        fires = fires_at.get(os.path.basename(path)[:-len(".json")] + ".wav", [])
        for s in stream["segments"]:
            if s["kind"] == "near-miss":
                counts[s.get("transcript", "?")] += sum(1 for e in fires if s["startMs"] <= e <= s["endMs"] + 1500)
    print(json.dumps({k: v for k, v in counts.most_common() if v > 0}))


if __name__ == "__main__":
    main()
