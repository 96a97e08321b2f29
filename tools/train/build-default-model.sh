#!/usr/bin/env bash
# Builds the bundled default wake-word model ("hey edge") into models/default/:
#   corpus (fixed seed) -> dataset (device MFCCs) -> DS-CNN (train.py) -> INT8 QDQ (edgekws-model build-int8)
#   -> streaming evaluation on held-out test speakers (edgekws-model evaluate).
# Deterministic: same code + installed TTS engines give the same model bytes (see docs/model-loop.md).
# About 8-10 minutes on a shared 2-core VM; scratch (corpus ~0.7 GB) goes to $WORK, default artifacts/default-model.
#
# usage: tools/train/build-default-model.sh [--keep-work]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-$ROOT/artifacts/default-model}
OUT=$ROOT/models/default
PY=/usr/bin/python3            # Debian's interpreter: it has torch and onnx
SEED=42
ID=hey-edge
VERSION=1.0.0
CREATED=2026-11-23T00:00:00Z   # fixed so the device manifest is reproducible

CORPUS_ARGS=(--seed "$SEED" --speakers 80 --takes 6 --sentences 6 --negatives-minutes 240 --positives 450)
TRAIN_ARGS=(--seed "$SEED" --epochs 40 --threads 2)

cd "$ROOT"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "build tools (Release)"
for p in tools/EdgeKws.Corpus tools/EdgeKws.Dataset tools/EdgeKws.ModelTool; do
  dotnet build "$p" -c Release -nologo -v q -clp:ErrorsOnly
done
CORPUS="dotnet tools/EdgeKws.Corpus/bin/Release/net10.0/edgekws-corpus.dll"
DATASET="dotnet tools/EdgeKws.Dataset/bin/Release/net10.0/edgekws-dataset.dll"
MODEL="dotnet tools/EdgeKws.ModelTool/bin/Release/net10.0/edgekws-model.dll"

rm -rf "$WORK"
mkdir -p "$WORK"

step "corpus ${CORPUS_ARGS[*]}"
$CORPUS generate --out "$WORK/corpus" "${CORPUS_ARGS[@]}" | grep -v -E '^(synthesised|rendered|negative stream:) '

step "dataset export (wake phrase 'hey edge'; the other corpus keywords are background)"
# 2 windows per negative-stream minute: those are test-split (held-out) windows, only used for the
# INT8 vs float check; the streams themselves are evaluated in full below.
$DATASET export --corpus "$WORK/corpus" --out "$WORK/dataset" --keyword "hey edge" --stream-windows-per-minute 2

step "train ${TRAIN_ARGS[*]}"
$PY tools/train/train.py --dataset "$WORK/dataset" --out "$WORK/trained" "${TRAIN_ARGS[@]}" | tail -n 1

step "quantize to INT8"
$MODEL build-int8 --float "$WORK/trained/model.float.onnx" --training-manifest "$WORK/trained/training-manifest.json" \
  --dataset "$WORK/dataset" --out "$WORK/int8" --id "$ID" --version "$VERSION" --created "$CREATED"

step "evaluate on the held-out streams"
$MODEL evaluate --model "$WORK/int8/$ID-$VERSION.int8.manifest.json" --corpus "$WORK/corpus" --out "$WORK/eval"

step "copy to models/default"
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$WORK/int8/$ID-$VERSION.int8.onnx" "$WORK/int8/$ID-$VERSION.int8.manifest.json" \
   "$WORK/int8/$ID-$VERSION.int8.quantization-report.json" "$OUT/"
cp "$WORK/trained/training-manifest.json" "$OUT/$ID-$VERSION.training-manifest.json"
cp "$WORK/eval/evaluation.json" "$OUT/$ID-$VERSION.evaluation.json"
cp "$WORK/eval/det.csv" "$OUT/$ID-$VERSION.det.csv"
cp "$WORK/eval/det.png" "$OUT/$ID-$VERSION.det.png"
(cd "$OUT" && sha256sum -- * > SHA256SUMS)
ls -l "$OUT"
if [[ "${1:-}" != "--keep-work" ]]; then rm -rf "$WORK"; fi
step "done"
