#!/usr/bin/env bash
# Leave-one-engine-out: how does the bundled recipe do on a TTS engine it never heard?
# Trains the default model's recipe without any train-split audio of ENGINE's voices (keyword clips, near misses,
# sentences, and train negative-stream windows overlapping their speech), chooses the threshold on the validation
# streams and evaluates on the held-out test streams; the breakdown's FRR for ENGINE is the figure.
#
# usage: tools/train/leave-one-engine-out.sh ENGINE CORPUS_DIR [OUT_DIR]
#   ENGINE      espeak | flite | festival
#   CORPUS_DIR  the recipe's corpus (tools/train/build-default-model.sh --keep-work leaves it in artifacts/default-model/corpus)
#   OUT_DIR     default artifacts/leave-out-ENGINE
# Environment: EPOCHS (default: the recipe's), same trainer arguments as build-default-model.sh otherwise.
set -euo pipefail
ENGINE=${1:?usage: leave-one-engine-out.sh ENGINE CORPUS_DIR [OUT_DIR]}
CORPUS=${2:?usage: leave-one-engine-out.sh ENGINE CORPUS_DIR [OUT_DIR]}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${3:-$ROOT/artifacts/leave-out-$ENGINE}
PY=/usr/bin/python3
eval "$(grep -E '^(SEED|ID|MAX_FA_PER_HOUR)=' "$ROOT/tools/train/build-default-model.sh")"
eval "$(sed -n '/^DATASET_ARGS=/p' "$ROOT/tools/train/build-default-model.sh")"
eval "$(sed -n '/^TRAIN_ARGS=/,/)$/p' "$ROOT/tools/train/build-default-model.sh")"
VERSION=0.0.0-without-$ENGINE

cd "$ROOT"
for p in tools/EdgeKws.Dataset tools/EdgeKws.ModelTool; do dotnet build "$p" -c Release -nologo -v q -clp:ErrorsOnly; done
DATASET="dotnet tools/EdgeKws.Dataset/bin/Release/net10.0/edgekws-dataset.dll"
MODEL="dotnet tools/EdgeKws.ModelTool/bin/Release/net10.0/edgekws-model.dll"
rm -rf "$WORK"; mkdir -p "$WORK"
$DATASET export --corpus "$CORPUS" --out "$WORK/dataset" "${DATASET_ARGS[@]}" --train-without-engine "$ENGINE"
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY tools/train/train.py --dataset "$WORK/dataset" --out "$WORK/trained" "${TRAIN_ARGS[@]}" | grep -v '^{"epoch"'
$MODEL build-int8 --float "$WORK/trained/model.float.onnx" --training-manifest "$WORK/trained/training-manifest.json" \
  --dataset "$WORK/dataset" --out "$WORK/int8" --id "$ID" --version "$VERSION"
$MODEL evaluate --model "$WORK/int8/$ID-$VERSION.int8.manifest.json" --corpus "$CORPUS" --split validation --out "$WORK/eval-validation" >/dev/null
THRESHOLD=$($PY tools/train/choose_threshold.py --det "$WORK/eval-validation/det.csv" --max-fa-per-hour "$MAX_FA_PER_HOUR" \
  --out "$WORK/eval-validation/threshold.json" | tail -n 1)
$MODEL evaluate --model "$WORK/int8/$ID-$VERSION.int8.manifest.json" --corpus "$CORPUS" --threshold "$THRESHOLD" --out "$WORK/eval"
echo "leave-one-engine-out ($ENGINE never in training): threshold $THRESHOLD; see the FRR by engine above and $WORK/eval/evaluation.json"
