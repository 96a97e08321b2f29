#!/usr/bin/env bash
# One recipe-search run (docs/model-loop.md "What was tried"): the default model's steps 3-5 with other trainer arguments, on
# the recipe's corpus and dataset, without touching models/default.
#   train.py ARGS -> build-int8 -> evaluate --split validation -> choose_threshold.py (MAX_FA_PER_HOUR, default 2)
#   -> build-int8 with that threshold -> evaluate on the test streams.
#
# usage: tools/train/experiments/recipe-variant.sh NAME TRAIN_ARGS...
#   e.g. recipe-variant.sh m23 --seed 42 --epochs 40 --blocks 5 --time-dilations 1,2,4,8,8 --threads 1 --negatives-per-epoch 6000 \
#          --hard-negative-fraction 0.5 --hard-negative-start 5 --hard-negative-every 5 --max-shift-frames 15 --architecture temporal --channels 64
# Environment: CORPUS and DATASET (default artifacts/m13/{corpus,dataset}: WORK=artifacts/m13 tools/train/build-default-model.sh
# --keep-work leaves them, or its first two steps alone: 18 min). Output in artifacts/NAME: train.log, trained/, int8-T/,
# eval-validation/ (det.csv, threshold.json), eval-test/ (evaluation.json, det.csv, detections.csv), evalt.log (the printed breakdown).
set -euo pipefail
NAME=${1:?usage: recipe-variant.sh NAME TRAIN_ARGS...}; shift
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
CORPUS=${CORPUS:-artifacts/m13/corpus}
DATASET=${DATASET:-artifacts/m13/dataset}
W=artifacts/$NAME
[[ -f "$DATASET/dataset.json" && -f "$CORPUS/manifest.json" ]] || { echo "no corpus/dataset at $CORPUS, $DATASET" >&2; exit 2; }
MODEL="dotnet tools/EdgeKws.ModelTool/bin/Release/net10.0/edgekws-model.dll"
dotnet build tools/EdgeKws.ModelTool -c Release -nologo -v q -clp:ErrorsOnly
mkdir -p "$W"
INT8_ARGS=(--dataset "$DATASET" --id hey-edge --version 1.4.0 --parent 1.3.0 --created 2026-12-07T00:00:00Z)
echo "== train $* ($(date -u +%T))"
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /usr/bin/python3 tools/train/train.py --dataset "$DATASET" --out "$W/trained" "$@" > "$W/train.log" 2>&1
tail -n 1 "$W/train.log"
echo "== threshold on the validation streams ($(date -u +%T))"
$MODEL build-int8 --float "$W/trained/model.float.onnx" --training-manifest "$W/trained/training-manifest.json" --out "$W/int8-p" "${INT8_ARGS[@]}" > "$W/int8.log"
$MODEL evaluate --model "$W/int8-p/hey-edge-1.4.0.int8.manifest.json" --corpus "$CORPUS" --split validation --out "$W/eval-validation" > "$W/evalv.log"
T=$(/usr/bin/python3 tools/train/choose_threshold.py --det "$W/eval-validation/det.csv" --max-fa-per-hour "${MAX_FA_PER_HOUR:-2}" \
  --out "$W/eval-validation/threshold.json" | tail -n 1)
echo "threshold $T"
echo "== test streams ($(date -u +%T))"
$MODEL build-int8 --float "$W/trained/model.float.onnx" --training-manifest "$W/trained/training-manifest.json" --out "$W/int8-T" "${INT8_ARGS[@]}" --threshold "$T" > /dev/null
$MODEL evaluate --model "$W/int8-T/hey-edge-1.4.0.int8.manifest.json" --corpus "$CORPUS" --out "$W/eval-test" > "$W/evalt.log"
head -n 1 "$W/evalt.log"
echo "== done ($(date -u +%T))"
