#!/usr/bin/env bash
# Builds the bundled default wake-word model ("hey edge") into models/default/:
#   corpus (fixed seed; train/validation negative streams with synthetic music, noise, hum, babble)
#   -> dataset (device MFCCs; dense windows of the train negative stream)
#   -> DS-CNN (train.py, per-epoch negative sampling with hard-negative mining)
#   -> INT8 QDQ (edgekws-model build-int8)
#   -> threshold chosen on the VALIDATION streams (edgekws-model evaluate --split validation, choose_threshold.py)
#   -> streaming evaluation on the held-out TEST streams (edgekws-model evaluate).
# Deterministic: same code + installed TTS engines give the same model bytes (see docs/model-loop.md).
# About 15-25 minutes on the shared 2-core VM (training is most of it); scratch (~1.5 GB) goes to
# $WORK, default artifacts/default-model.
#
# usage: tools/train/build-default-model.sh [--keep-work] [--tiny]
#   --tiny: the same steps on a tiny far-field corpus and the trainer's --tiny model, written to $WORK/out instead of
#           models/default (CI runs it: tests/EdgeKws.ModelLoop.Tests DefaultModelRecipe_Tests); ~2 min.
set -euo pipefail
KEEP_WORK=0 TINY=0
for a in "$@"; do
  case "$a" in
    --keep-work) KEEP_WORK=1 ;;
    --tiny) TINY=1 ;;
    *) echo "unknown option $a (options: --keep-work --tiny)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-$ROOT/artifacts/default-model}
OUT=${OUT:-$ROOT/models/default}   # an experiment points it elsewhere so models/default stays the shipped model
PY=/usr/bin/python3            # Debian's interpreter: it has torch and onnx
SEED=42
ID=hey-edge
VERSION=${VERSION:-1.3.0}
PARENT=1.2.0
CREATED=2026-12-06T00:00:00Z   # fixed so the device manifest is reproducible
MAX_FA_PER_HOUR=2              # validation FA/hour budget of the threshold choice (see docs/model-loop.md "Threshold")

# Far-field, device-realistic audio (docs/corpus.md "Far-field rendering"): 600 speakers drawn from every installed
# English voice and human variant (8 espeak-ng accents x ~90 variants, 5 flite and 3 festival voices, sox pitch +-300
# cents where the engine has no pitch control, rates 80-120 %); every clip and stream segment said in a simulated room
# of its split's own bank (image-source and sox-reverb impulse responses), through a coloured microphone, with home
# noise at 0-20 dB SNR and a peak level of -40..-3 dBFS. --train-every-engine keeps half of each engine's voices in
# train; the test split holds out voices of every engine, its own rooms, sox noise beds and chords no training audio
# contains, and near misses never trained against (--held-out-near-misses).
NEAR_MISSES="hey hedge,edge,pledge,hey,a ledge,hey reg,knowledge,hedge,ledger,edgy,a wedge,hey ed,edge computing,hey reggie,hey eddie,hey there,sledge,hey ready,the edge,hey edgar"
HELD_OUT_NEAR_MISSES="allege,hey edward,a hedgehog,wedge,hey jenny,say edge,hey egg,cutting edge"
CORPUS_ARGS=(--seed "$SEED" --voices all --far-field --speakers 600 --takes 8 --sentences 2 --stream-sentences 8
             --near-misses "$NEAR_MISSES" --held-out-near-misses "$HELD_OUT_NEAR_MISSES"
             --snr 20,15,10,5,0 --level -40,-3 --stream-snr 30,20,15,10,5 --stream-level -35,-3
             --negatives-minutes 300 --positives 600
             --train-negatives-minutes 480 --validation-negatives-minutes 120 --validation-positives 450
             --train-every-engine)
DATASET_ARGS=(--keyword "hey edge" --stream-windows-per-minute 2 --train-stream-windows-per-minute 60)
# 5 DS blocks (58 KB INT8 of the 64 KB budget); half of each epoch's negatives are the windows the current model
# scores highest (near misses, babble and TV are where the false accepts come from).
TRAIN_ARGS=(--seed "$SEED" --epochs ${EPOCHS:-40} --blocks 5 --time-dilations 1,2,4,8,8 --threads 1 --negatives-per-epoch 6000 --hard-negative-fraction 0.5
            --hard-negative-start 5 --hard-negative-every 5 --max-shift-frames 15)

if ((TINY)); then
  CORPUS_ARGS=(--seed "$SEED" --voices all --far-field --speakers 12 --takes 2 --sentences 2 --stream-sentences 3 --rooms 6
               --near-misses "hey hedge,edge,knowledge,hey ed" --held-out-near-misses "allege,hey edward"
               --snr 20,10,0 --level -40,-3 --stream-snr 30,20,10 --stream-level -35,-3
               --negatives-minutes 1 --positives 12 --train-negatives-minutes 1 --validation-negatives-minutes 1
               --validation-positives 8 --train-every-engine)
  DATASET_ARGS=(--keyword "hey edge" --stream-windows-per-minute 10 --train-stream-windows-per-minute 60)
  TRAIN_ARGS=(--seed "$SEED" --tiny --time-dilations 2,4 --threads 1)
  OUT=$WORK/out
fi

cd "$ROOT"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "build tools (Release)"
for p in tools/EdgeKws.Corpus tools/EdgeKws.Dataset tools/EdgeKws.ModelTool; do
  dotnet build "$p" -c Release -nologo -v q -clp:ErrorsOnly
done
[[ -n "${EXTRA_CORPUS_ARGS:-}" ]] && read -r -a EXTRA <<< "$EXTRA_CORPUS_ARGS" && CORPUS_ARGS+=("${EXTRA[@]}")
CORPUS="dotnet tools/EdgeKws.Corpus/bin/Release/net10.0/edgekws-corpus.dll"
DATASET="dotnet tools/EdgeKws.Dataset/bin/Release/net10.0/edgekws-dataset.dll"
MODEL="dotnet tools/EdgeKws.ModelTool/bin/Release/net10.0/edgekws-model.dll"

rm -rf "$WORK"
mkdir -p "$WORK"

step "corpus ${CORPUS_ARGS[*]}"
$CORPUS generate --out "$WORK/corpus" "${CORPUS_ARGS[@]}" | grep -v -E '^(synthesised|rendered|negative stream)'

step "dataset export ${DATASET_ARGS[*]}"
# The other corpus keywords are background. 60 windows per minute of the train negative stream are the
# non-speech training negatives; 2 per minute of the validation/test negative streams are only window
# metrics and the INT8 vs float check (the streams themselves are evaluated in full below).
$DATASET export --corpus "$WORK/corpus" --out "$WORK/dataset" "${DATASET_ARGS[@]}"

step "train ${TRAIN_ARGS[*]}"
# One torch thread: on this shared VM two threads under load spin in OpenMP and run several times slower.
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY tools/train/train.py --dataset "$WORK/dataset" --out "$WORK/trained" "${TRAIN_ARGS[@]}" | grep -v '^{"epoch"'

step "quantize to INT8 (provisional threshold: the trainer's window-level suggestion)"
$MODEL build-int8 --float "$WORK/trained/model.float.onnx" --training-manifest "$WORK/trained/training-manifest.json" \
  --dataset "$WORK/dataset" --out "$WORK/int8-provisional" --id "$ID" --version "$VERSION" --parent "$PARENT" --created "$CREATED"

step "choose the threshold on the validation streams (never the test streams)"
$MODEL evaluate --model "$WORK/int8-provisional/$ID-$VERSION.int8.manifest.json" --corpus "$WORK/corpus" --split validation \
  --out "$WORK/eval-validation"
THRESHOLD=$($PY tools/train/choose_threshold.py --det "$WORK/eval-validation/det.csv" --max-fa-per-hour "$MAX_FA_PER_HOUR" \
  --out "$WORK/eval-validation/threshold.json" | tail -n 1)
echo "deployed threshold: $THRESHOLD"

step "quantize to INT8 with threshold $THRESHOLD"
$MODEL build-int8 --float "$WORK/trained/model.float.onnx" --training-manifest "$WORK/trained/training-manifest.json" \
  --dataset "$WORK/dataset" --out "$WORK/int8" --id "$ID" --version "$VERSION" --parent "$PARENT" --created "$CREATED" \
  --threshold "$THRESHOLD"
cmp "$WORK/int8-provisional/$ID-$VERSION.int8.onnx" "$WORK/int8/$ID-$VERSION.int8.onnx"   # the threshold changes only the manifest

step "evaluate on the held-out test streams"
$MODEL evaluate --model "$WORK/int8/$ID-$VERSION.int8.manifest.json" --corpus "$WORK/corpus" --out "$WORK/eval"

step "copy to models/default"
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$WORK/int8/$ID-$VERSION.int8.onnx" "$WORK/int8/$ID-$VERSION.int8.manifest.json" \
   "$WORK/int8/$ID-$VERSION.int8.quantization-report.json" "$OUT/"
cp "$WORK/trained/training-manifest.json" "$OUT/$ID-$VERSION.training-manifest.json"
# The float weights (BN and input normalisation folded) stay with the model: the registry keeps them so a fine-tune starts
# from the real weights, not a dequantised INT8 copy (docs/model-loop.md "Fine-tuning from production"). Their SHA-256 is the
# training manifest's onnx.sha256.
cp "$WORK/trained/model.float.onnx" "$OUT/$ID-$VERSION.float.onnx"
cp "$WORK/eval/evaluation.json" "$OUT/$ID-$VERSION.evaluation.json"
cp "$WORK/eval/det.csv" "$OUT/$ID-$VERSION.det.csv"
cp "$WORK/eval/det.png" "$OUT/$ID-$VERSION.det.png"
cp "$WORK/eval-validation/threshold.json" "$OUT/$ID-$VERSION.threshold.json"
cp "$WORK/eval-validation/det.csv" "$OUT/$ID-$VERSION.validation-det.csv"
(cd "$OUT" && sha256sum -- * > SHA256SUMS)
ls -l "$OUT"
if ((!KEEP_WORK && !TINY)); then rm -rf "$WORK"; fi
step "done"
