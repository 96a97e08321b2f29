#!/usr/bin/python3
"""Applies a label calibration (label-calibration.json) to the clips of a label-bench.json and counts the decisions at a
precision target: how one calibration fares on another bench's clips (docs/labeling.md "Measured on triggers").
The features are LabelEvidence.Features() (src/Gateway/EdgeKws.Labeling/Verification/LabelEvidence.cs); a clip is decided
TA when P >= target, FA when 1 - P >= target, else reviewed, as CalibratedLabeler does. On the bundled calibration and
bench it reproduces label-bench's own figures (17 TA, 18 FA, 91.0 % review).

    tools/train/experiments/apply_label_calibration.py models/labeling/label-calibration.json BENCH/label-bench.json [0.98]
"""
import collections, json, math, sys

CAP = 8  # LabelEvidence.FeatureCap


def logit(p):
    if p is None or p != p:
        return 0.0
    q = min(max(p, 1e-6), 1 - 1e-6)
    return max(-CAP, min(CAP, math.log(q / (1 - q))))


def features(e):
    aligned, winner = e["aligned"], e["nearMissWinner"]
    margin = e["nearMissMarginPerFrame"]
    return [1 if aligned else 0, e["alignerConfidence"] if aligned else 0, 0 if winner is None else 1,
            0 if winner is None else min(CAP, margin if margin is not None else CAP), logit(e["deviceScore"]), logit(e["verifierScore"])]


def main():
    cal, bench = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
    target = float(sys.argv[3]) if len(sys.argv) > 3 else 0.98
    counts = collections.Counter()
    for clip in bench["clips"]:
        z = cal["bias"] + sum(w * (v - m) / s for w, v, m, s in zip(cal["weights"], features(clip["evidence"]), cal["means"], cal["scales"]))
        p = 1 / (1 + math.exp(-z))
        decision = "TA" if p >= target else "FA" if 1 - p >= target else "review"
        counts[("wake phrase" if clip["holdsWakePhrase"] else "no wake phrase", decision)] += 1
    n = sum(counts.values())
    ta = sum(v for (_, d), v in counts.items() if d == "TA")
    ta_right = counts[("wake phrase", "TA")]
    print(json.dumps({" / ".join(k): v for k, v in sorted(counts.items())}))
    print(f"decided TA {ta} (precision {100 * ta_right / ta:.1f} %)" if ta else "decided TA 0",
          f"review {100 * sum(v for (_, d), v in counts.items() if d == 'review') / n:.1f} %")


if __name__ == "__main__":
    main()
