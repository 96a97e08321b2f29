#!/usr/bin/env bash
# Fits the gateway labeler's calibration (docs/labeling.md "Calibrated labels") into models/labeling/:
#   a far-field corpus of its own (fixed seed; every engine and voice variant, simulated rooms, microphones, home noise;
#   no streams) -> edgekws-dataset label-bench: trigger-like clips (the wake phrase alone and in sentences, near misses,
#   other speech) through the labeler's evidence (forced alignment, near-miss competition, the bundled device model's
#   score, the gateway verifier's score); the calibration is fitted on the train split's clips (this corpus's own train
#   split: the largest, ~80 % of its speakers; the models never heard these files, though its voices are drawn from the same installed engines they were trained on) and the figures are measured on its
#   test split's (other voices, other rooms).
# Writes label-calibration.json (Gateway:Labeling:CalibrationPath; the main job uses it), label-bench.json and
# label-bench.txt. About 15 minutes on the shared 2-core VM (the aligner is most of it).
#
# usage: tools/train/build-label-calibration.sh
#   DEVICE_MODEL / VERIFIER: manifests to use (default: the bundled ones under models/default and models/verifier).
#   KEEP_CORPUS=1 reuses $WORK/corpus from an earlier run (same seed and options: the same corpus).
#   The calibration belongs to the models it was fitted with: refit it whenever either changes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-$ROOT/artifacts/label-calibration}
OUT=$ROOT/models/labeling
DEVICE_MODEL=${DEVICE_MODEL:-$(ls "$ROOT"/models/default/*.int8.manifest.json | head -n 1)}
VERIFIER=${VERIFIER:-$(ls "$ROOT"/models/verifier/*.float.manifest.json 2>/dev/null | head -n 1 || true)}
PER_KIND=${PER_KIND:-120}
NEAR_MISSES="hey hedge,edge,pledge,a ledge,hey reg,knowledge,hedge,ledger,edgy,a wedge,hey ed,hey reggie,hey eddie,sledge,hey edgar"

cd "$ROOT"
for p in tools/EdgeKws.Corpus tools/EdgeKws.Dataset; do
  dotnet build "$p" -c Release -nologo -v q -clp:ErrorsOnly
done
if [[ "${KEEP_CORPUS:-0}" == 1 && -f "$WORK/corpus/manifest.json" ]]; then
  echo "== corpus: reusing $WORK/corpus (KEEP_CORPUS=1)"
else
rm -rf "$WORK"
mkdir -p "$WORK"
echo "== corpus (far-field, no streams)"
dotnet tools/EdgeKws.Corpus/bin/Release/net10.0/edgekws-corpus.dll generate --out "$WORK/corpus" --seed 1234 --voices all --far-field \
  --speakers 160 --takes 1 --sentences 4 --near-misses "$NEAR_MISSES" --snr 20,15,10,5,0 --level -40,-3 \
  --negatives-minutes 0 --positives 0 | grep -v -E '^(synthesised|rendered)'
fi
echo "== label-bench (device model $DEVICE_MODEL, verifier ${VERIFIER:-none})"
mkdir -p "$OUT"
dotnet tools/EdgeKws.Dataset/bin/Release/net10.0/edgekws-dataset.dll label-bench --corpus "$WORK/corpus" --model "$DEVICE_MODEL" \
  ${VERIFIER:+--verifier "$VERIFIER"} --calibration-split train --per-kind "$PER_KIND" --parallel 2 --out "$OUT" | tee "$OUT/label-bench.txt"
(cd "$OUT" && sha256sum -- * > SHA256SUMS)
