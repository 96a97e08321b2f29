#!/usr/bin/env bash
# Builds the gateway verifier ("hey edge", float) into models/verifier/: a second-stage keyword model that runs at the
# gateway on uploaded trigger clips, where there is no 64 KB budget. Same MFCC features and far-field training data as the
# device model (the dataset of tools/train/build-default-model.sh), a wider and deeper DS-CNN (128 channels, 6 blocks with
# time dilations up to 8: ~105 K parameters, 4-5x the device model's compute) kept in float. Its score is one of the label's
# signals (docs/labeling.md "Calibrated labels"); tools/train/build-label-calibration.sh fits the calibration with it.
#
# usage: tools/train/build-verifier.sh [DATASET_DIR]
#   DATASET_DIR: an edgekws-dataset/1 directory; default artifacts/default-model/dataset, which
#                `tools/train/build-default-model.sh --keep-work` leaves behind (corpus 17 min + export 1.5 min).
# SKIP_TRAIN=1 reuses $WORK/trained from an earlier run of the same arguments. EPOCHS (default 16), VERSION (1.0.0) and
# OUT (models/verifier) choose a variant, e.g. the 30-epoch one docs/labeling.md reports, written outside the bundle.
# Training: about 60 minutes on one core of the shared 2-core VM (16 epochs x 5-6 min). Deterministic (seeded, one thread).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DATASET=${1:-$ROOT/artifacts/default-model/dataset}
WORK=${WORK:-$ROOT/artifacts/verifier}
OUT=${OUT:-$ROOT/models/verifier}
PY=/usr/bin/python3
ID=hey-edge-verifier
VERSION=${VERSION:-1.0.0}
CREATED=2026-12-06T00:00:00Z
[[ -f "$DATASET/dataset.json" ]] || { echo "no dataset at $DATASET (run tools/train/build-default-model.sh --keep-work first)" >&2; exit 2; }
TRAIN_ARGS=(--seed 7 --epochs ${EPOCHS:-16} --channels 128 --blocks 6 --time-dilations 1,2,4,8,8,8 --threads 1
            --negatives-per-epoch 6000 --hard-negative-fraction 0.5 --hard-negative-start 4 --hard-negative-every 4
            --max-shift-frames 15 --mix-prob 0.25 --time-mask-frames 6)

cd "$ROOT"
mkdir -p "$WORK"
if [[ "${SKIP_TRAIN:-0}" == 1 && -f "$WORK/trained/training-manifest.json" ]]; then
  echo "== train: reusing $WORK/trained (SKIP_TRAIN=1)"
else
  echo "== train ${TRAIN_ARGS[*]}"
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY tools/train/train.py --dataset "$DATASET" --out "$WORK/trained" "${TRAIN_ARGS[@]}" | grep -v '^{"epoch"'
fi

echo "== write $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$WORK/trained/model.float.onnx" "$OUT/$ID-$VERSION.float.onnx"
cp "$WORK/trained/training-manifest.json" "$OUT/$ID-$VERSION.training-manifest.json"
# The manifest the gateway's ClipScorer loads: the device model's schema with a float input. Threshold and smoothing only
# matter to the detector's own events, which the verifier does not use (it reads the highest smoothed score).
$PY - "$OUT" "$ID" "$VERSION" "$CREATED" "$DATASET/dataset.json" <<'PY'
import hashlib, json, os, sys
out, mid, ver, created, dataset = sys.argv[1:]
meta = json.load(open(dataset))
onnx = f"{mid}-{ver}.float.onnx"
data = open(os.path.join(out, onnx), "rb").read()
manifest = {
    "schemaVersion": 1, "modelId": mid, "modelVersion": ver, "createdUtc": created.replace("Z", "+00:00"),
    "fileName": onnx, "sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data),
    "input": {"name": "mfcc", "shape": [1, 1, meta["windowFrames"], meta["coefficients"]], "elementType": "float"},
    "outputName": "posteriors", "labels": meta["classes"], "keywordIndex": 1,
    "windowFrames": meta["windowFrames"], "strideFrames": 10, "frameHopMs": 10, "threshold": 0.5,
    "smoothingFrames": 30, "refractoryMs": 1000, "featureConfigHash": meta["featureConfigHash"],
}
with open(os.path.join(out, f"{mid}-{ver}.float.manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
PY
(cd "$OUT" && sha256sum -- * > SHA256SUMS)
ls -l "$OUT"
