#!/usr/bin/python3
"""Build the tiny, deterministic keyword-detector test models and their manifests.

Run with Debian's interpreter (it has python3-onnx; the python3 first on PATH does not):

    /usr/bin/python3 tools/models/make_test_model.py --out tests/fixtures/models

Writes two models (static QDQ INT8: QuantizeLinear/DequantizeLinear, per-channel S8 weights,
int32 biases, because ONNX Runtime's CPU provider cannot run ConvInteger) plus a manifest each:

  kws-test-int8.onnx / .manifest.json   input "mfcc_q", int8  [1, 1, W, 13] (device quantizes)
  kws-test-float.onnx / .manifest.json  input "mfcc",   float [1, 1, W, 13] (graph quantizes)

Both compute the same function. The "keyword" is a burst of high c1 (MFCC coefficient 1)
lasting about PATTERN_FRAMES frames, which a ~1 kHz tone burst produces in a typical MFCC
front end; silence and broadband noise keep c1 near zero.

  layer 1  Conv 1x13 per frame: y = 0.5 * c1 - 3, then Clip(0, 1)  -> h[t] in [0, 1]
           (h = 1 for c1 >= 8, h = 0 for c1 <= 6: a "hot frame" indicator)
  layer 2  Conv Wx1 over the whole window, a matched filter over h:
             last TAIL frames       weight -10   (the burst must have ENDED: end-pointing)
             the BODY frames before weight  +1   (the burst itself)
             the oldest frames      weight  -4   (nothing hot before it: a sustained tone
                                                   is not the keyword)
           keyword logit    =  1.0 * (sum - REQUIRED_HOT)
           background logit = -0.5 * (sum - REQUIRED_HOT)   (a second channel with a different
                                                           per-channel scale)
  Softmax over [background, keyword].

So P(keyword) is ~1 when a burst of REQUIRED_HOT..~62 hot frames has ended 5..35 frames
before the window end, and ~0 on silence, noise, short blips and sustained tones (a tone longer
than ~63 frames always has >= 13 hot frames in the -4 region).
Every weight, bias and scale is chosen so that quantization is exact (the int8 / int32 values
times their scales reproduce the float design bit for bit).

The output is byte-for-byte deterministic: the same arguments give the same files, which
tests/EdgeKws.Detection.Tests checks by regenerating into a temporary folder.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

COEFFS = 13
TAIL = 5
BODY = 80
PATTERN_FRAMES = 50
REQUIRED_HOT = 45
C1_INDEX = 1
OPSET = 13

# A fixed stand-in for the MFCC front end's FeatureConfigHash (SHA-256 of this text): the
# detector only compares hashes, so tests use this one. Pass the real hash for a real model.
TEST_FEATURE_CONFIG_HASH = hashlib.sha256(b"edgekws-test-feature-config-v1").hexdigest()

INPUT_SCALE = 0.5      # MFCC units per int8 step: range [-64, 63.5]
WEIGHT_CODES_PER_UNIT = 6  # layer-2 int8 weight codes per template unit (|template| <= 10: codes within +-60, see build_model)
INPUT_ZERO_POINT = 0

# The MFCC front end's real configuration hash (EdgeKws.Shared.Features.MfccConfig.Default), for
# models that run behind the real front end (the agent).
REAL_FEATURE_CONFIG_HASH = "733e2273fbe3d4c0d045b290c4e241d05982847bb330100c56cbc963149c8166"

# Presets. "test": the original synthetic-MFCC detector (hot frame = high c1), fed hand-made
# MFCC streams by the detector tests. "tone1k": the same matched filter behind the REAL front end:
# a ~1 kHz tone burst (amplitude >= 0.05 over noise up to -30 dBFS) drives c6 to +22..+97 while
# white noise and silence keep c6 <= ~18 (measured with torchaudio's Kaldi MFCC, which the front
# end matches bit for bit), so hot = c6 >= 30, cold = c6 <= 26. Stride 5 / smoothing 5 so the
# detector decides 7-11 frames after the burst ends (the 5-frame end-pointing tail plus overlap).
PRESETS = {
    "test": dict(prefix="kws-test", model_id="edgekws-test-kws", coeff=1, w1=0.5, b1=-3.0, y1_scale=0.25,
                 stride=10, smoothing=30, hash=TEST_FEATURE_CONFIG_HASH, version="0.1.0-test"),
    "tone1k": dict(prefix="kws-tone1k", model_id="edgekws-tone1k-kws", coeff=6, w1=0.25, b1=-6.5, y1_scale=0.125,
                   stride=5, smoothing=5, hash=REAL_FEATURE_CONFIG_HASH, version="0.1.0-tone1k"),
}


def matched_filter(W):
    """Layer-2 keyword weights per window position (oldest first), in template units (WEIGHT_CODES_PER_UNIT int8 codes each)."""
    template = np.empty(W, dtype=np.int32)
    for t in range(W):
        if t >= W - TAIL:
            template[t] = -10
        elif t >= W - TAIL - BODY:
            template[t] = 1
        else:
            template[t] = -4
    return template


def initializer(name, array):
    return numpy_helper.from_array(array, name)


def build_model(window_frames, int8_input, preset):
    W = window_frames
    if W < TAIL + BODY + 1:
        raise SystemExit(f"window frames must be at least {TAIL + BODY + 1}, got {W}")
    inits = []
    nodes = []

    in_name = "mfcc_q" if int8_input else "mfcc"
    in_type = TensorProto.INT8 if int8_input else TensorProto.FLOAT
    graph_input = helper.make_tensor_value_info(in_name, in_type, [1, 1, W, COEFFS])

    inits += [
        initializer("in_scale", np.array(INPUT_SCALE, dtype=np.float32)),
        initializer("in_zp", np.array(INPUT_ZERO_POINT, dtype=np.int8)),
    ]
    if int8_input:
        nodes.append(helper.make_node("DequantizeLinear", [in_name, "in_scale", "in_zp"], ["x"], name="dq_in"))
    else:
        nodes.append(helper.make_node("QuantizeLinear", [in_name, "in_scale", "in_zp"], ["x_q"], name="q_in"))
        nodes.append(helper.make_node("DequantizeLinear", ["x_q", "in_scale", "in_zp"], ["x"], name="dq_in"))

    # Layer 1: one output channel, weight w1 on the hot coefficient (127 * w1/127), bias b1
    # ("test": 0.5 on c1, -3 -> b1_q -1524).
    w1_scale = np.array([preset["w1"] / 127.0], dtype=np.float32)
    w1_q = np.zeros((1, 1, 1, COEFFS), dtype=np.int8)
    w1_q[0, 0, 0, preset["coeff"]] = 127
    b1_scale = (np.float32(INPUT_SCALE) * w1_scale).astype(np.float32)
    b1_q = np.array([round(preset["b1"] / (INPUT_SCALE * preset["w1"] / 127.0))], dtype=np.int32)
    inits += [
        initializer("w1_q", w1_q), initializer("w1_scale", w1_scale),
        initializer("w1_zp", np.zeros(1, dtype=np.int8)),
        initializer("b1_q", b1_q), initializer("b1_scale", b1_scale),
        initializer("b1_zp", np.zeros(1, dtype=np.int32)),
    ]
    nodes.append(helper.make_node("DequantizeLinear", ["w1_q", "w1_scale", "w1_zp"], ["w1"], name="dq_w1", axis=0))
    nodes.append(helper.make_node("DequantizeLinear", ["b1_q", "b1_scale", "b1_zp"], ["b1"], name="dq_b1", axis=0))
    nodes.append(helper.make_node("Conv", ["x", "w1", "b1"], ["y1"], name="conv1", kernel_shape=[1, COEFFS]))

    inits += [
        initializer("y1_scale", np.array(preset["y1_scale"], dtype=np.float32)),
        initializer("y1_zp", np.array(0, dtype=np.int8)),
        initializer("clip_min", np.array(0.0, dtype=np.float32)),
        initializer("clip_max", np.array(1.0, dtype=np.float32)),
        initializer("h_scale", np.array(1.0 / 127.0, dtype=np.float32)),
        initializer("h_zp", np.array(0, dtype=np.int8)),
    ]
    nodes.append(helper.make_node("QuantizeLinear", ["y1", "y1_scale", "y1_zp"], ["y1_q"], name="q_y1"))
    nodes.append(helper.make_node("DequantizeLinear", ["y1_q", "y1_scale", "y1_zp"], ["y1_dq"], name="dq_y1"))
    nodes.append(helper.make_node("Clip", ["y1_dq", "clip_min", "clip_max"], ["h_f"], name="clip_h"))
    nodes.append(helper.make_node("QuantizeLinear", ["h_f", "h_scale", "h_zp"], ["h_q"], name="q_h"))
    nodes.append(helper.make_node("DequantizeLinear", ["h_q", "h_scale", "h_zp"], ["h"], name="dq_h"))

    # Layer 2: matched filter over time. Keyword channel scale 1/6, background 1/12, so the
    # integer weights are the same magnitudes with opposite signs. Why at most 60 in magnitude (6 x
    # the template's -10): x86 CPUs without VNNI (AVX2 only) run int8 x int8 convolutions as
    # u8 x s8 pairs summed in int16 (VPMADDUBSW), which saturates once 2 x 255 x |w| passes 32767; with
    # weights up to 120 a sustained tone's -4 penalty saturated there and the model fired on it.
    template = matched_filter(W)
    w2_q = np.zeros((2, 1, W, 1), dtype=np.int8)
    w2_q[1, 0, :, 0] = (WEIGHT_CODES_PER_UNIT * template).astype(np.int8)     # keyword:    w = template
    w2_q[0, 0, :, 0] = (-WEIGHT_CODES_PER_UNIT * template).astype(np.int8)    # background: w = -0.5 * template
    w2_scale = np.array([0.5 / WEIGHT_CODES_PER_UNIT, 1.0 / WEIGHT_CODES_PER_UNIT], dtype=np.float32)
    h_scale = np.float32(1.0 / 127.0)
    b2_scale = (h_scale * w2_scale).astype(np.float32)
    # bias: background +0.5*REQUIRED_HOT, keyword -REQUIRED_HOT, in units of b2_scale
    b2_q = np.array([REQUIRED_HOT * 127 * WEIGHT_CODES_PER_UNIT, -REQUIRED_HOT * 127 * WEIGHT_CODES_PER_UNIT], dtype=np.int32)
    inits += [
        initializer("w2_q", w2_q), initializer("w2_scale", w2_scale),
        initializer("w2_zp", np.zeros(2, dtype=np.int8)),
        initializer("b2_q", b2_q), initializer("b2_scale", b2_scale),
        initializer("b2_zp", np.zeros(2, dtype=np.int32)),
        initializer("logit_scale", np.array(0.25, dtype=np.float32)),
        initializer("logit_zp", np.array(0, dtype=np.int8)),
        initializer("logits_shape", np.array([1, 2], dtype=np.int64)),
    ]
    nodes.append(helper.make_node("DequantizeLinear", ["w2_q", "w2_scale", "w2_zp"], ["w2"], name="dq_w2", axis=0))
    nodes.append(helper.make_node("DequantizeLinear", ["b2_q", "b2_scale", "b2_zp"], ["b2"], name="dq_b2", axis=0))
    nodes.append(helper.make_node("Conv", ["h", "w2", "b2"], ["y2"], name="conv2", kernel_shape=[W, 1]))
    nodes.append(helper.make_node("QuantizeLinear", ["y2", "logit_scale", "logit_zp"], ["y2_q"], name="q_y2"))
    nodes.append(helper.make_node("DequantizeLinear", ["y2_q", "logit_scale", "logit_zp"], ["y2_dq"], name="dq_y2"))
    nodes.append(helper.make_node("Reshape", ["y2_dq", "logits_shape"], ["logits"], name="flatten"))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1))

    graph_output = helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 2])
    graph = helper.make_graph(nodes, "edgekws_test_kws", [graph_input], [graph_output], initializer=inits)
    model = helper.make_model(
        graph,
        producer_name="edgekws-make_test_model",
        producer_version="1",
        opset_imports=[helper.make_operatorsetid("", OPSET)],
    )
    model.ir_version = 8  # ONNX 1.12 writes IR 8 for opset 13-17
    onnx.checker.check_model(model)
    return model, in_name


def reference_scores(window, preset):
    """NumPy reference of the float design, to sanity-check the pattern before writing."""
    W = window.shape[0]
    c = np.clip(np.round(window[:, preset["coeff"]] / INPUT_SCALE), -128, 127) * INPUT_SCALE
    h = np.clip(preset["w1"] * c + preset["b1"], 0.0, 1.0)
    s = float(np.dot(matched_filter(W), h))
    d = 1.5 * (s - REQUIRED_HOT)
    return 1.0 / (1.0 + np.exp(-d))


def write_manifest(path, model_file, model_bytes, in_name, int8_input, window_frames, feature_hash, variant, preset):
    manifest = {
        "schemaVersion": 1,
        "modelId": preset["model_id"],
        "modelVersion": f"{preset['version']}-{variant}",
        "parentVersion": None,
        "createdUtc": "2026-11-23T00:00:00+00:00",
        "fileName": model_file,
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "sizeBytes": len(model_bytes),
        "input": {
            "name": in_name,
            "shape": [1, 1, window_frames, COEFFS],
            "elementType": "int8" if int8_input else "float",
            "quantScale": INPUT_SCALE if int8_input else None,
            "quantZeroPoint": INPUT_ZERO_POINT if int8_input else None,
        },
        "outputName": "probs",
        "labels": ["_background_", "tone_burst"],
        "keywordIndex": 1,
        "windowFrames": window_frames,
        "strideFrames": preset["stride"],
        "frameHopMs": 10,
        "threshold": 0.8,
        "smoothingFrames": preset["smoothing"],
        "refractoryMs": 1000,
        "featureConfigHash": feature_hash,
    }
    manifest = {k: v for k, v in manifest.items() if v is not None}
    manifest["input"] = {k: v for k, v in manifest["input"].items() if v is not None}
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--window-frames", type=int, default=98, help="frames per window (1 s = 98 frames)")
    ap.add_argument("--feature-config-hash", default=None,
                    help="hex SHA-256 of the MFCC configuration the model expects (default: the preset's)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="test",
                    help="test: synthetic-MFCC c1 detector (detector tests); tone1k: 1 kHz tone-burst detector behind the real front end")
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    feature_hash = (args.feature_config_hash or preset["hash"]).lower()

    # Sanity check of the design on the reference implementation before writing anything.
    W = args.window_frames
    silence = np.zeros((W, COEFFS), dtype=np.float32)
    burst = silence.copy()
    hot = 20.0 if args.preset == "test" else 40.0
    burst[W - 15 - PATTERN_FRAMES:W - 15, preset["coeff"]] = hot
    tone_end = silence.copy()
    tone_end[:W - 5, preset["coeff"]] = hot
    if not (reference_scores(silence, preset) < 0.01 and reference_scores(burst, preset) > 0.99
            and reference_scores(tone_end, preset) < 0.01):
        sys.exit("design check failed: the reference model does not separate a burst from silence and tones")

    os.makedirs(args.out, exist_ok=True)
    for variant, int8_input in (("int8", True), ("float", False)):
        if args.preset != "test" and not int8_input:
            continue  # the agent runs int8-input models; one variant is enough
        model, in_name = build_model(W, int8_input, preset)
        model_bytes = model.SerializeToString()
        model_file = f"{preset['prefix']}-{variant}.onnx"
        with open(os.path.join(args.out, model_file), "wb") as f:
            f.write(model_bytes)
        write_manifest(os.path.join(args.out, f"{preset['prefix']}-{variant}.manifest.json"), model_file, model_bytes,
                       in_name, int8_input, W, feature_hash, variant, preset)
        print(f"{model_file}: {len(model_bytes)} bytes, sha256 {hashlib.sha256(model_bytes).hexdigest()}")


if __name__ == "__main__":
    main()
