#!/usr/bin/python3
"""Train the EdgeKws keyword-spotting DS-CNN on an exported dataset and export float ONNX.

Run with Debian's interpreter (python3-torch 1.13, python3-onnx 1.12; the python3 first on PATH
lacks them):

    /usr/bin/python3 tools/train/train.py --dataset DIR --out DIR --seed 42 [--epochs 30] [--tiny] [--extra-negatives DIR]

Input: a dataset directory in the `edgekws-dataset/1` format (docs/dataset-format.md). The trainer
never computes features: it reads the exporter's MFCC windows as they are.

Output (in --out):
  model.float.onnx         opset 13, input "mfcc" float [1, 1, frames, coefficients],
                           output "posteriors" float [1, classes] (softmax inside the graph);
                           the per-coefficient input normalisation is folded into the first Conv
                           and BatchNorm into every Conv, so the graph is Conv/Relu/GAP/Gemm/Softmax.
  training-manifest.json   dataset id, feature config hash, code commit, hyperparameters,
                           parameter count, metrics per split, FRR / false-accept rate per
                           threshold on validation windows, suggested threshold.

Fine-tuning (docs/model-loop.md "Fine-tuning from production"):

    /usr/bin/python3 tools/train/train.py --dataset FIELD --out DIR --seed 42 --init-from PARENT.float.onnx \
        [--init-sha256 HEX] [--init-version V] [--init-input-normalisation=MEAN,STD] [--replay BASE_DATASET --replay-windows-per-epoch N]

  builds the network the ONNX graph describes (channels, blocks, time dilations read from the graph), loads its folded weights
  (BatchNorm as identity; the input normalisation left folded in conv1, or with --init-input-normalisation taken back out so
  conv1 trains at the scale it was trained at), refuses to train unless the loaded
  model reproduces the graph's posteriors within 1e-4 (evaluated node by node from the graph itself), and mixes N windows of
  the base training dataset into every epoch so the model does not forget what it knew. --epochs 0 re-exports the loaded model.

Deterministic from --seed: one thread, torch.use_deterministic_algorithms, every random draw from
generators seeded from --seed. The same dataset, seed and code give the same ONNX bytes.
See docs/model-loop.md.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT_VERSION = "edgekws-dataset/1"
MANIFEST_FORMAT = "edgekws-training/1"
INPUT_NAME = "mfcc"
OUTPUT_NAME = "posteriors"
OPSET = 13
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]  # 0.05 .. 0.95


def fail(message):
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(2)


# ----------------------------------------------------------------------------------------------
# Dataset


def load_dataset(path, need_background=True):
    manifest_path = os.path.join(path, "dataset.json")
    if not os.path.isfile(manifest_path):
        fail(f"no dataset.json in {path} (expected an edgekws-dataset/1 directory, docs/dataset-format.md)")
    with open(manifest_path, "r", encoding="utf-8-sig") as f:  # tolerate a BOM
        meta = json.load(f)
    if meta.get("formatVersion") != FORMAT_VERSION:
        fail(f"{manifest_path}: formatVersion is {meta.get('formatVersion')!r}, this trainer reads {FORMAT_VERSION!r}")
    for key in ("datasetId", "featureConfigHash", "windowFrames", "coefficients", "classes", "splits"):
        if key not in meta:
            fail(f"{manifest_path}: '{key}' is missing")
    classes = meta["classes"]
    if len(classes) < 2 or classes[0] != "_background_":
        fail(f"{manifest_path}: 'classes' must start with '_background_' and name at least one keyword, got {classes}")
    frames, coeffs = int(meta["windowFrames"]), int(meta["coefficients"])
    splits = {}
    for split, info in meta["splits"].items():
        if split not in ("train", "validation", "test"):
            fail(f"{manifest_path}: unknown split {split!r}")
        fx = os.path.join(path, f"{split}.features.npy")
        lb = os.path.join(path, f"{split}.labels.npy")
        for p in (fx, lb):
            if not os.path.isfile(p):
                fail(f"split {split!r} is listed but {p} is missing")
        x = np.load(fx, allow_pickle=False)
        y = np.load(lb, allow_pickle=False)
        if x.dtype != np.float32 or x.ndim != 3 or x.shape[1:] != (frames, coeffs):
            fail(f"{fx}: expected float32 [N, {frames}, {coeffs}], got {x.dtype} {list(x.shape)}")
        if y.dtype != np.int64 or y.shape != (x.shape[0],):
            fail(f"{lb}: expected int64 [{x.shape[0]}], got {y.dtype} {list(y.shape)}")
        if x.shape[0] != int(info.get("count", -1)):
            fail(f"split {split!r}: dataset.json says {info.get('count')} examples, {fx} has {x.shape[0]}")
        if x.shape[0] and (y.min() < 0 or y.max() >= len(classes)):
            fail(f"{lb}: labels must be in [0, {len(classes) - 1}], got [{y.min()}, {y.max()}]")
        if not np.all(np.isfinite(x)):
            fail(f"{fx}: contains NaN or infinite features")
        splits[split] = (np.ascontiguousarray(x), np.ascontiguousarray(y))
    if "train" not in splits or splits["train"][0].shape[0] == 0:
        fail("the dataset has no training examples")
    if need_background and not np.any(splits["train"][1] == 0):
        fail("the training split has no background (class 0) windows; background mixing and false accepts need them")
    return meta, splits


def feature_config(meta):
    try:
        return json.loads(meta.get("featureConfig") or "{}")
    except json.JSONDecodeError:
        fail("dataset.json: 'featureConfig' is not the canonical MfccConfig JSON")


# ----------------------------------------------------------------------------------------------
# Model


class DsBlock(nn.Module):
    """Depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU (MobileNet / Hello Edge DS-CNN).

    time_dilation > 1 dilates the depthwise kernel along time only (padding keeps the size): the same
    parameters see a wider stretch of the utterance (TCN / MDTC-style receptive field growth).
    kernel_width 1 makes the depthwise kernel 3x1: the temporal architecture's feature maps are one column wide."""

    def __init__(self, channels, time_dilation=1, kernel_width=3):
        super().__init__()
        d = time_dilation
        self.dw = nn.Conv2d(channels, channels, (3, kernel_width), padding=(d, kernel_width // 2), dilation=(d, 1),
                            groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        x = F.relu(self.bn1(self.dw(x)))
        return F.relu(self.bn2(self.pw(x)))


ARCHITECTURES = ("ds-cnn", "temporal")
TEMPORAL_CONV1_FRAMES = 5


class DsCnn(nn.Module):
    """DS-CNN for [1, 1, frames, coefficients] MFCC windows.

    First layer *without padding*, so that the input normalisation (x - mean) / std folds into it exactly at export:
    - "ds-cnn" (Hello Edge): a 10x4 Conv with stride 2x2 that slides over the coefficients as if they were an image axis;
      the normalisation must then be one scalar for all coefficients.
    - "temporal" (TC-ResNet / MDTC-style): a 5 x coefficients Conv with stride 2 in time that sees every coefficient of a
      frame at once (cepstral coefficients have no locality a 2-D kernel could exploit), then 3x1 depthwise blocks over
      time. Each kernel column always meets the same coefficient, so the normalisation is per coefficient (C0, the frame
      energy, lives on another scale than C1..C12) and still folds exactly. Same ONNX ops, so the quantizer and the device
      run it unchanged.
    """

    def __init__(self, classes, channels, blocks, mean, std, time_dilations=None, architecture="ds-cnn"):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture {architecture!r} is not one of {ARCHITECTURES}")
        coeffs = len(mean)
        self.architecture = architecture
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 1, 1, -1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 1, 1, -1))
        temporal = architecture == "temporal"
        self.conv1_kernel = (TEMPORAL_CONV1_FRAMES, coeffs) if temporal else (10, 4)
        self.conv1_stride = (2, 1) if temporal else (2, 2)
        self.conv1 = nn.Conv2d(1, channels, self.conv1_kernel, stride=self.conv1_stride, bias=True)
        self.bn1 = nn.BatchNorm2d(channels)
        dilations = time_dilations or [1] * blocks
        self.blocks = nn.Sequential(*[DsBlock(channels, d, 1 if temporal else 3) for d in dilations])
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(channels, classes)
        self.normalise_input = True

    def forward(self, x):
        if self.normalise_input:
            x = (x - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.blocks(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.dropout(x))


class ExportWrapper(nn.Module):
    """Adds the softmax: the device reads posteriors."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return F.softmax(self.model(x), dim=1)


def fold_normalisation(model):
    """Folds (x - mean) / std into conv1: conv1 has no padding, so every tap sees a real input
    and w.((x - m)/s) + b = (w/s).x + (b - m/s * sum(w)) exactly. A kernel that spans every
    coefficient (the temporal architecture) meets coefficient k always in column k, so m and s may
    differ per coefficient; a kernel that slides over coefficients needs one scalar mean/std."""
    with torch.no_grad():
        w = model.conv1.weight  # [C, 1, kh, kw]
        mean = model.mean.flatten()
        std = model.std.flatten()
        if w.shape[3] == mean.shape[0]:
            m, s = mean.view(1, 1, 1, -1), std.view(1, 1, 1, -1)
            model.conv1.bias -= (w * m / s).sum(dim=(1, 2, 3))
            model.conv1.weight /= s
        else:
            if not (torch.all(mean == mean[0]) and torch.all(std == std[0])):
                raise RuntimeError("folding needs one mean/std for all coefficients when conv1 slides over them")
            m, s = float(mean[0]), float(std[0])
            model.conv1.bias -= (w.sum(dim=(1, 2, 3)) * m / s)
            model.conv1.weight /= s
        model.normalise_input = False


def unfold_normalisation(model, mean, std):
    """The inverse of fold_normalisation: conv1 back at the scale it was trained at, (x - mean) / std in front of it again.
    Why: folding divides conv1's weights by std (36.6 for hey-edge 1.3.0: mean |w| 0.0008), and Adam moves every weight by
    about the learning rate per step whatever its size, so a fine-tune of the folded form rewrote conv1 by ~40 % in five
    steps and lost the voices it did not see (measured: FRR at 1 FA in an hour of other voices 35 % -> 65 %). Unfolded,
    the same steps are the small ones they were in training. Exact: (w*s).((x - m)/s) + (b + m*sum(w)) = w.x + b.
    mean and std are scalars, or one per coefficient for a conv1 that spans every coefficient (the temporal architecture)."""
    with torch.no_grad():
        w = model.conv1.weight
        m = torch.as_tensor(mean, dtype=torch.float32).view(1, 1, 1, -1)
        s = torch.as_tensor(std, dtype=torch.float32).view(1, 1, 1, -1)
        if m.numel() > 1 and m.numel() != w.shape[3]:
            raise RuntimeError(f"a per-coefficient normalisation needs a conv1 that spans all {m.numel()} coefficients")
        model.conv1.bias += (w * m).sum(dim=(1, 2, 3))
        model.conv1.weight *= s
        model.mean.copy_(m.expand_as(model.mean))
        model.std.copy_(s.expand_as(model.std))
        model.normalise_input = True


def to_folded_form(model):
    """The exported form as a trainable network: BatchNorm replaced by identity and every Conv given a bias (where a BN was
    folded into it), normalisation mean 0 / std 1 (folded into conv1 already). Fine-tuning trains exactly the function the
    parent's graph computes; re-introducing BN would need statistics the graph no longer has and would change the model
    before the first step."""
    model.bn1 = nn.Identity()
    for block in model.blocks:
        for conv_name, bn_name in (("dw", "bn1"), ("pw", "bn2")):
            old = getattr(block, conv_name)
            new = nn.Conv2d(old.in_channels, old.out_channels, old.kernel_size, stride=old.stride, padding=old.padding,
                            dilation=old.dilation, groups=old.groups, bias=True)
            setattr(block, conv_name, new)
            setattr(block, bn_name, nn.Identity())
    model.normalise_input = False
    with torch.no_grad():
        model.mean.zero_()
        model.std.fill_(1.0)
    return model


def count_parameters(model):
    return int(sum(p.numel() for p in model.parameters()))


def inference_parameter_count(model):
    """Parameters left after BN folding (what the ONNX file / INT8 model holds)."""
    n = 0
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            n += mod.weight.numel() + mod.out_channels  # BN folds into a per-channel bias
        elif isinstance(mod, nn.Linear):
            n += mod.weight.numel() + mod.out_features
    return int(n)


# ----------------------------------------------------------------------------------------------
# Fine-tuning: the parent's float graph


class ParentGraph:
    """The parent's float ONNX (opset 13, Conv/Relu/GlobalAveragePool/Flatten/Gemm/Softmax as train.py exports it): its
    architecture, its weights, and its posteriors computed node by node from the graph (independently of DsCnn), which is
    what the init check compares the rebuilt torch model with."""

    SUPPORTED = {"Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm", "Softmax"}

    def __init__(self, path):
        import onnx
        from onnx import numpy_helper
        self.model = onnx.load(path)
        g = self.model.graph
        self.weights = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in g.initializer}
        self.nodes = list(g.node)
        ops = {n.op_type for n in self.nodes}
        if not ops <= self.SUPPORTED:
            fail(f"--init-from {path}: ops {sorted(ops - self.SUPPORTED)} are not what train.py exports (a DS-CNN float graph)")
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        dims = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
        self.frames, self.coeffs = int(dims[2]), int(dims[3])
        convs = [n for n in self.nodes if n.op_type == "Conv"]
        gemms = [n for n in self.nodes if n.op_type == "Gemm"]
        if len(convs) < 3 or (len(convs) - 1) % 2 != 0 or len(gemms) != 1:
            fail(f"--init-from {path}: expected conv1, (depthwise, pointwise) pairs and one Gemm, got {len(convs)} Conv and {len(gemms)} Gemm")
        self.conv1 = convs[0]
        self.pairs = [(convs[i], convs[i + 1]) for i in range(1, len(convs), 2)]
        self.fc = gemms[0]
        w1 = self.weights[self.conv1.input[1]]
        self.channels = int(w1.shape[0])
        # conv1's shape tells the architecture (DsCnn): 10x4 stride 2x2 (ds-cnn) or frames x every coefficient stride 2x1 (temporal).
        shapes = {"ds-cnn": ([1, 10, 4], [2, 2], [3, 3]), "temporal": ([1, TEMPORAL_CONV1_FRAMES, self.coeffs], [2, 1], [3, 1])}
        found = [a for a, (shape, stride, _) in shapes.items() if list(w1.shape[1:]) == shape and self.attr(self.conv1, "strides") == stride]
        if not found:
            fail(f"--init-from {path}: conv1 is {list(w1.shape)} stride {self.attr(self.conv1, 'strides')}, train.py's DS-CNN has "
                 f"[C, 1, 10, 4] stride 2 and its temporal model [C, 1, {TEMPORAL_CONV1_FRAMES}, {self.coeffs}] stride 2x1")
        self.architecture = found[0]
        depthwise = shapes[self.architecture][2]
        self.dilations = []
        for dw, pw in self.pairs:
            if self.attr(dw, "group") != self.channels or self.attr(dw, "kernel_shape") != depthwise or self.attr(pw, "kernel_shape") != [1, 1]:
                fail(f"--init-from {path}: conv {dw.name} / {pw.name} is not a depthwise {depthwise[0]}x{depthwise[1]} + pointwise 1x1 pair of {self.channels} channels")
            self.dilations.append(int(self.attr(dw, "dilations")[0]))
        self.classes = int(self.weights[self.fc.input[1]].shape[0])

    @staticmethod
    def attr(node, name):
        from onnx import helper
        for a in node.attribute:
            if a.name == name:
                v = helper.get_attribute_value(a)
                return list(v) if isinstance(v, (list, tuple)) else v
        return None

    def build(self):
        """The torch DsCnn in folded form with the graph's weights."""
        model = to_folded_form(DsCnn(self.classes, self.channels, len(self.pairs), [0.0] * self.coeffs, [1.0] * self.coeffs, self.dilations,
                                     self.architecture))
        with torch.no_grad():
            def load(conv, node):
                conv.weight.copy_(torch.from_numpy(self.weights[node.input[1]]))
                conv.bias.copy_(torch.from_numpy(self.weights[node.input[2]]))
            load(model.conv1, self.conv1)
            for block, (dw, pw) in zip(model.blocks, self.pairs):
                load(block.dw, dw)
                load(block.pw, pw)
            model.fc.weight.copy_(torch.from_numpy(self.weights[self.fc.input[1]]))
            model.fc.bias.copy_(torch.from_numpy(self.weights[self.fc.input[2]]))
        return model

    def posteriors(self, x):
        """Runs the graph node by node (float64) on windows x [N, frames, coeffs]: the reference the rebuilt model must match."""
        values = {self.input_name: torch.from_numpy(x).unsqueeze(1).double()}
        values.update({k: torch.from_numpy(v).double() for k, v in self.weights.items()})
        for n in self.nodes:
            a = [values[i] for i in n.input]
            if n.op_type == "Conv":
                pads = self.attr(n, "pads") or [0, 0, 0, 0]
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    fail(f"--init-from: asymmetric pads {pads} in {n.name}")
                y = F.conv2d(a[0], a[1], a[2] if len(a) > 2 else None, stride=tuple(self.attr(n, "strides") or [1, 1]),
                             padding=(pads[0], pads[1]), dilation=tuple(self.attr(n, "dilations") or [1, 1]), groups=self.attr(n, "group") or 1)
            elif n.op_type == "Relu":
                y = F.relu(a[0])
            elif n.op_type == "GlobalAveragePool":
                y = a[0].mean(dim=(2, 3), keepdim=True)
            elif n.op_type == "Flatten":
                y = torch.flatten(a[0], self.attr(n, "axis") if self.attr(n, "axis") is not None else 1)
            elif n.op_type == "Gemm":
                w = a[1].T if self.attr(n, "transB") == 1 else a[1]
                y = (self.attr(n, "alpha") or 1.0) * (a[0] @ w) + (self.attr(n, "beta") or 1.0) * a[2]
            else:  # Softmax
                y = F.softmax(a[0], dim=self.attr(n, "axis") if self.attr(n, "axis") is not None else 1)
            values[n.output[0]] = y
        return values[self.output_name].float().numpy()


INIT_CHECK_TOLERANCE = 1e-4
INIT_CHECK_WINDOWS = 64


def init_from_parent(args, classes, frames, coeffs, x_check):
    """Loads --init-from, checks lineage (sha256) and that the rebuilt model reproduces the graph's posteriors; returns the
    model and the manifest's initFrom record."""
    path = args.init_from
    if not os.path.isfile(path):
        fail(f"--init-from {path}: no such file")
    sha = sha256_file(path)
    if args.init_sha256 is not None and sha.lower() != args.init_sha256.lower():
        fail(f"--init-from {path}: sha256 {sha} is not the expected {args.init_sha256} (tampered or wrong float weights)")
    parent = ParentGraph(path)
    if (parent.frames, parent.coeffs) != (frames, coeffs):
        fail(f"--init-from {path}: the graph takes [{parent.frames}, {parent.coeffs}] windows, the dataset has [{frames}, {coeffs}]")
    if parent.classes != len(classes):
        fail(f"--init-from {path}: the graph has {parent.classes} classes, the dataset {len(classes)} ({classes})")
    model = parent.build()
    if args.init_input_normalisation is not None:
        mean, std = args.init_input_normalisation
        if isinstance(mean, list) and parent.architecture != "temporal":
            fail(f"--init-input-normalisation: {len(mean)} means and stds are one per coefficient, which only the temporal architecture has "
                 f"(the graph is a {parent.architecture}); pass MEAN,STD")
        if isinstance(mean, list) and len(mean) != coeffs:
            fail(f"--init-input-normalisation: {len(mean)} means and stds, the graph takes {coeffs} coefficients")
        unfold_normalisation(model, mean, std)
    model.eval()
    x = x_check[:INIT_CHECK_WINDOWS]
    reference = parent.posteriors(x)
    rebuilt = predict(model, x)
    diff = float(np.abs(reference - rebuilt).max()) if x.shape[0] else 0.0
    if not x.shape[0]:
        fail("--init-from: no windows to check the loaded weights on")
    if not diff <= INIT_CHECK_TOLERANCE:
        fail(f"--init-from {path}: the rebuilt model's posteriors differ from the graph's by {diff:.3g} (> {INIT_CHECK_TOLERANCE}) on {x.shape[0]} windows; refusing to fine-tune")
    record = {"sha256": sha, "file": os.path.basename(path), "modelVersion": args.init_version,
              "architecture": {"name": parent.architecture, "channels": parent.channels, "blocks": len(parent.pairs), "timeDilations": parent.dilations},
              "check": {"windows": int(x.shape[0]), "maxAbsPosteriorDifference": diff, "tolerance": INIT_CHECK_TOLERANCE, "passed": True}}
    print(json.dumps({"initFrom": record}), flush=True)
    return model, parent, record


# ----------------------------------------------------------------------------------------------
# Augmentation (features only: additive noise at audio level is the corpus's job)


class Augmenter:
    """Time shift, vocal-tract-length warp, SpecAugment-style masks, and mixing with background windows.

    Background mixing happens in the (smoothed) log-mel power domain: MFCCs are un-liftered and
    inverse-DCT'd (Kaldi's orthonormal DCT-II) to a 40-bin log-mel envelope, the background's
    envelope is added in power (logaddexp) at a random relative gain, and the result is projected
    back. Projection through the same 13 DCT rows is exact for the coefficients we keep, so clean
    windows pass through unchanged when the gain is -inf.

    The frequency warp (--freq-warp W, VTLP: Jaitly & Hinton 2013) works on the same envelope: each
    window gets a factor alpha, log-uniform in [1/(1+W), 1+W], and its envelope is resampled so that
    what was at f is now at alpha*f (a talker with a vocal tract 1/alpha as long: formants move, the
    13-coefficient envelope carries no pitch harmonics). Why: the voices the model misses even
    clean and close (the held-out kal diphones, lowered or sped up) are formant-shifted versions of
    what it heard; a handful of TTS voices cannot cover vocal-tract lengths the way real talkers do.
    alpha = 1 returns the window unchanged (the projection is exact).
    """

    def __init__(self, cfg, coeffs, background, generator, args):
        self.g = generator
        self.args = args
        self.background = background
        bins = int(cfg.get("mel_bins", 40))
        lifter = float(cfg.get("cepstral_lifter", 22.0))
        self.use_energy = bool(cfg.get("use_energy", False))
        k = np.arange(coeffs)[:, None]
        m = np.arange(bins)[None, :]
        dct = np.sqrt(2.0 / bins) * np.cos(np.pi / bins * (m + 0.5) * k)
        dct[0, :] = np.sqrt(1.0 / bins)
        lift = 1.0 + 0.5 * lifter * np.sin(np.pi * np.arange(coeffs) / lifter) if lifter else np.ones(coeffs)
        self.dct = torch.tensor(dct, dtype=torch.float32)        # [coeffs, bins]
        self.lift = torch.tensor(lift, dtype=torch.float32)      # [coeffs]
        # Mel bin centres in Hz (Kaldi's mel scale, bins evenly spaced in mel between mel_low_hz and mel_high_hz).
        mel = lambda f: 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)
        self.mel_low = float(mel(float(cfg.get("mel_low_hz", 20.0))))
        self.mel_step = (float(mel(float(cfg.get("mel_high_hz", 7600.0)))) - self.mel_low) / (bins + 1)
        centres_mel = self.mel_low + self.mel_step * (np.arange(bins) + 1.0)
        self.centres_hz = torch.tensor(700.0 * np.expm1(centres_mel / 1127.0), dtype=torch.float64)
        self.bins = bins

    def _to_logmel(self, c):
        return (c / self.lift) @ self.dct                       # [..., bins]

    def _to_mfcc(self, logmel):
        return (logmel @ self.dct.T) * self.lift

    def warp_frequency(self, x, alpha):
        """x [n, frames, coeffs], alpha [n]: the envelope value at f moves to alpha*f (edges replicated)."""
        src_hz = self.centres_hz.view(1, -1) / alpha.double().view(-1, 1)                 # [n, bins]
        src = ((1127.0 * torch.log1p(src_hz / 700.0) - self.mel_low) / self.mel_step - 1.0).clamp(0, self.bins - 1)
        lo = src.floor().long().clamp(max=self.bins - 2)
        w = (src - lo.double()).float().unsqueeze(1)                                        # [n, 1, bins]
        env = self._to_logmel(x)                                                            # [n, frames, bins]
        lo = lo.unsqueeze(1).expand(-1, env.shape[1], -1)
        warped = torch.gather(env, 2, lo) * (1 - w) + torch.gather(env, 2, lo + 1) * w
        out = self._to_mfcc(warped)
        if self.use_energy:
            out = torch.cat([x[:, :, :1], out[:, :, 1:]], dim=2)   # C0 is the frame energy: a warp does not change it
        return out

    def __call__(self, x):
        a, g = self.args, self.g
        n, frames, coeffs = x.shape
        x = x.clone()
        # 1. Time shift with edge replication (the word moves within the window).
        if a.max_shift_frames > 0:
            shifts = torch.randint(-a.max_shift_frames, a.max_shift_frames + 1, (n,), generator=g)
            idx = torch.arange(frames).view(1, -1) - shifts.view(-1, 1)
            idx = idx.clamp(0, frames - 1)
            x = torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, coeffs))
        # 1b. Vocal-tract-length warp of the talker (before the background is mixed in: rooms do not warp).
        if a.freq_warp > 0:
            span = math.log1p(a.freq_warp)
            alpha = torch.exp((torch.rand(n, generator=g) * 2 - 1) * span)
            x = self.warp_frequency(x, alpha)
        # 2. Background mixing.
        if a.mix_prob > 0 and self.background.shape[0] > 0:
            mix = torch.rand(n, generator=g) < a.mix_prob
            picks = torch.randint(0, self.background.shape[0], (n,), generator=g)
            gains_db = a.mix_min_db + (a.mix_max_db - a.mix_min_db) * torch.rand(n, generator=g)
            if mix.any():
                sel = mix.nonzero().flatten()
                bg = self.background[picks[sel]]
                gain = (gains_db[sel] * (math.log(10.0) / 10.0)).view(-1, 1, 1)
                if self.use_energy:
                    c0 = torch.logaddexp(x[sel, :, :1], bg[:, :, :1] + gain)
                    rest = self._to_mfcc(torch.logaddexp(self._to_logmel(x[sel]), self._to_logmel(bg) + gain))
                    x[sel] = torch.cat([c0, rest[:, :, 1:]], dim=2)
                else:
                    x[sel] = self._to_mfcc(torch.logaddexp(self._to_logmel(x[sel]), self._to_logmel(bg) + gain))
        # 3. SpecAugment: one time mask and one coefficient mask per window, filled with the
        #    training mean (0 after normalisation, i.e. "no information").
        if a.time_mask_frames > 0:
            widths = torch.randint(0, a.time_mask_frames + 1, (n,), generator=g)
            starts = (torch.rand(n, generator=g) * (frames - widths + 1).float()).long()
            t = torch.arange(frames).view(1, -1)
            mask = (t >= starts.view(-1, 1)) & (t < (starts + widths).view(-1, 1))
            x = torch.where(mask.unsqueeze(-1), torch.as_tensor(a.fill_value, dtype=x.dtype), x)
        if a.coeff_mask > 0:
            widths = torch.randint(0, a.coeff_mask + 1, (n,), generator=g)
            starts = (torch.rand(n, generator=g) * (coeffs - widths + 1).float()).long()
            c = torch.arange(coeffs).view(1, -1)
            mask = (c >= starts.view(-1, 1)) & (c < (starts + widths).view(-1, 1))
            x = torch.where(mask.unsqueeze(1), torch.as_tensor(a.fill_value, dtype=x.dtype), x)
        return x


# ----------------------------------------------------------------------------------------------
# Metrics


def predict(model, x, batch=256):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb = torch.from_numpy(x[i:i + batch]).unsqueeze(1)
            out.append(F.softmax(model(xb), dim=1))
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def split_metrics(probs, labels):
    """Accuracy, plus per threshold: FRR over keyword windows (posterior of the true keyword below
    the threshold) and false-accept rate over background windows (any keyword posterior at or
    above it)."""
    n = int(labels.shape[0])
    if n == 0:
        return {"count": 0}
    acc = float((probs.argmax(axis=1) == labels).mean())
    kw = labels > 0
    bg = ~kw
    kw_post = probs[np.arange(n), labels][kw]
    bg_max = probs[bg, 1:].max(axis=1) if bg.any() else np.zeros(0)
    rows = []
    for t in THRESHOLDS:
        frr = float((kw_post < t).mean()) if kw.any() else None
        far = float((bg_max >= t).mean()) if bg.any() else None
        rows.append({"threshold": t, "frr": frr, "falseAcceptRate": far})
    return {"count": n, "keywordCount": int(kw.sum()), "backgroundCount": int(bg.sum()),
            "accuracy": round(acc, 6), "thresholds": rows}


def suggest_threshold(val):
    """Lowest threshold whose validation false-accept rate is at most 1 %; window FAR is only a
    proxy (FA/hour on streams is decided later, by the evaluation gate)."""
    for row in val.get("thresholds", []):
        if row["falseAcceptRate"] is not None and row["falseAcceptRate"] <= 0.01:
            return row["threshold"]
    return 0.95


# ----------------------------------------------------------------------------------------------


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here, capture_output=True, text=True, check=True).stdout.strip() != ""
        return head, dirty
    except (OSError, subprocess.CalledProcessError):
        return None, None


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Train the EdgeKws DS-CNN keyword model (docs/model-loop.md).")
    p.add_argument("--dataset", required=True, help="edgekws-dataset/1 directory")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--tiny", action="store_true", help="test config: 16 channels, 2 blocks, 20 epochs at lr 0.01, at most 512 windows")
    p.add_argument("--epochs", type=int)
    p.add_argument("--channels", type=int)
    p.add_argument("--blocks", type=int)
    p.add_argument("--architecture", choices=ARCHITECTURES, default="ds-cnn",
                   help="ds-cnn: 10x4 conv1 sliding over coefficients (Hello Edge); temporal: conv1 spans every coefficient, "
                        "3x1 depthwise blocks over time, per-coefficient input normalisation (see DsCnn)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float)
    p.add_argument("--time-dilations", help="comma-separated time dilation per DS block, e.g. 1,2,4,8,8 (one per block; "
                   "default all 1). Widens the receptive field from ~0.3 s to ~1 s at the same parameter count")
    p.add_argument("--weight-decay", type=float, help="default 1e-4 (0 when fine-tuning)")
    p.add_argument("--max-shift-frames", type=int, default=10)
    p.add_argument("--time-mask-frames", type=int, default=10)
    p.add_argument("--coeff-mask", type=int, default=2)
    p.add_argument("--freq-warp", type=float, default=0.0,
                   help="vocal-tract-length warp: each training window's spectral envelope scaled in frequency by a factor "
                        "log-uniform in [1/(1+W), 1+W] (0 = off; e.g. 0.15)")
    p.add_argument("--mix-prob", type=float, default=0.5)
    p.add_argument("--mix-min-db", type=float, default=-20.0, help="background gain relative to its stored level")
    p.add_argument("--mix-max-db", type=float, default=-3.0)
    p.add_argument("--max-train", type=int, help="cap on training windows (first N after a seeded shuffle)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--negatives-per-epoch", type=int,
                   help="background windows per epoch, drawn from the training pool (default: all of them every epoch); "
                        "keyword windows are all used every epoch")
    p.add_argument("--hard-negative-fraction", type=float, default=0.0,
                   help="share of the epoch's background windows taken from the highest-scoring ones (hard-negative "
                        "mining, needs --negatives-per-epoch); the rest are drawn at random")
    p.add_argument("--hard-negative-start", type=int, default=5, help="first epoch (1-based) that uses mined hard negatives")
    p.add_argument("--hard-negative-every", type=int, default=3, help="re-score the background pool every N epochs")
    p.add_argument("--init-from", help="fine-tune: start from this float ONNX (a train.py export: BN and normalisation folded); "
                   "architecture and weights come from the graph")
    p.add_argument("--init-sha256", help="refuse --init-from unless its SHA-256 is this (the registry's lineage check)")
    p.add_argument("--init-version", help="model version of --init-from, recorded in the manifest's initFrom")
    p.add_argument("--init-input-normalisation", metavar="MEAN,STD",
                   help="fine-tune: the parent's input normalisation (its training manifest's hyperparameters.inputNormalisation: "
                        "MEAN,STD, or for a per-coefficient one every mean then every std, M0,...,Mn,S0,...,Sn), "
                        "taken back out of conv1 before training so conv1 trains at the scale it was trained at (see unfold_normalisation)")
    p.add_argument("--extra-negatives", action="append", default=[], metavar="DATASET",
                   help="another edgekws-dataset/1 directory whose train-split background (class 0) windows join the training pool "
                        "(e.g. a near-miss family generated apart from the base corpus); same feature config and classes, and none "
                        "of its train speakers may be a validation or test speaker of --dataset (checked on the lineage files). Repeatable")
    p.add_argument("--replay", help="fine-tune: a base training dataset (edgekws-dataset/1) whose train windows are mixed into every epoch")
    p.add_argument("--class-weights", help="loss weight per class, comma-separated (default: balanced over the epoch's mix). A fine-tune "
                   "passes its parent's (training manifest hyperparameters.classWeights): the parent's threshold was chosen for "
                   "posteriors trained with that balance, and another balance moves every posterior")
    p.add_argument("--replay-windows-per-epoch", type=int,
                   help="replay windows per epoch, stratified by class as in the base dataset (default: as many as the epoch's own windows, a 1:1 mix)")
    a = p.parse_args(argv)
    fine_tune = a.init_from is not None
    if not fine_tune:
        for name in ("init_sha256", "init_version", "init_input_normalisation", "replay", "replay_windows_per_epoch"):
            if getattr(a, name) is not None:
                fail(f"--{name.replace('_', '-')} needs --init-from (it belongs to fine-tuning)")
    elif a.channels is not None or a.blocks is not None or a.time_dilations is not None:
        fail("--channels, --blocks and --time-dilations come from the --init-from graph when fine-tuning")
    if a.class_weights is not None:
        try:
            a.class_weights = [float(w) for w in a.class_weights.split(",")]
        except ValueError:
            fail(f"--class-weights must be comma-separated numbers, got '{a.class_weights}'")
        if any(not (w > 0 and math.isfinite(w)) for w in a.class_weights):
            fail("--class-weights must be positive")
    if a.init_input_normalisation is not None:
        try:
            a.init_input_normalisation = [float(v) for v in a.init_input_normalisation.split(",")]
        except ValueError:
            fail(f"--init-input-normalisation must be MEAN,STD, got '{a.init_input_normalisation}'")
        values = a.init_input_normalisation
        half = len(values) // 2
        if len(values) < 2 or len(values) % 2 or not all(math.isfinite(v) for v in values) or not all(v > 0 for v in values[half:]):
            fail("--init-input-normalisation must be MEAN,STD (or every mean then every std) with finite means and positive stds")
        a.init_input_normalisation = (values[0], values[1]) if half == 1 else (values[:half], values[half:])
    if a.replay_windows_per_epoch is not None and (a.replay is None or a.replay_windows_per_epoch <= 0):
        fail("--replay-windows-per-epoch needs --replay and must be positive")
    # Fine-tuning defaults: a tenth of the from-scratch learning rate and a few epochs (the model is already good: large steps
    # would walk away from it), no weight decay (decay pulls folded weights towards 0, not towards the parent).
    if fine_tune:
        a.epochs = a.epochs if a.epochs is not None else (5 if a.tiny else 10)
        a.lr = a.lr if a.lr is not None else (1e-3 if a.tiny else 3e-4)
        a.weight_decay = a.weight_decay if a.weight_decay is not None else 0.0
        a.channels, a.blocks = 0, 0  # set from the graph in main()
    a.epochs = a.epochs if a.epochs is not None else (20 if a.tiny else 30)
    a.lr = a.lr if a.lr is not None else (1e-2 if a.tiny else 3e-3)
    a.weight_decay = a.weight_decay if a.weight_decay is not None else 1e-4
    a.channels = a.channels if a.channels is not None else (16 if a.tiny else 64)
    a.blocks = a.blocks if a.blocks is not None else (2 if a.tiny else 4)
    if a.tiny and a.max_train is None:
        a.max_train = 512
    if a.time_dilations is not None:
        try:
            a.time_dilations = [int(d) for d in a.time_dilations.split(",")]
        except ValueError:
            fail(f"--time-dilations must be comma-separated integers, got '{a.time_dilations}'")
        if len(a.time_dilations) != a.blocks or any(d < 1 or d > 16 for d in a.time_dilations):
            fail(f"--time-dilations needs one dilation in 1..16 per block ({a.blocks} blocks), got {a.time_dilations}")
    for name in ("epochs", "channels", "blocks", "batch_size"):
        if getattr(a, name) <= 0 and not (fine_tune and (name in ("channels", "blocks") or (name == "epochs" and a.epochs == 0))):
            fail(f"--{name.replace('_', '-')} must be positive" + (" (0 epochs re-exports an --init-from model)" if name == "epochs" else ""))
    if not 1 <= a.threads <= 2:
        fail("--threads must be 1 or 2 (the machine is shared)")
    if not (0 <= a.freq_warp <= 0.5):
        fail("--freq-warp must be in [0, 0.5] (a factor of at most 1.5 either way)")
    if a.negatives_per_epoch is not None and a.negatives_per_epoch <= 0:
        fail("--negatives-per-epoch must be positive")
    if not 0.0 <= a.hard_negative_fraction < 1.0:
        fail("--hard-negative-fraction must be in [0, 1)")
    if a.hard_negative_fraction > 0 and a.negatives_per_epoch is None:
        fail("--hard-negative-fraction needs --negatives-per-epoch (mined windows replace part of the epoch's random ones)")
    if a.hard_negative_start < 1 or a.hard_negative_every < 1:
        fail("--hard-negative-start and --hard-negative-every must be at least 1")
    return a


def keyword_scores(model, x, batch=512):
    """Highest keyword posterior per window (eval mode, no augmentation): how close each window is to a false accept."""
    probs = predict(model, x, batch)
    return probs[:, 1:].max(axis=1)


class EpochSampler:
    """Chooses each epoch's windows: every keyword window, plus (with --negatives-per-epoch) a subset of the
    background pool: a --hard-negative-fraction share from the windows the current model scores highest
    (re-scored every --hard-negative-every epochs from --hard-negative-start), the rest uniformly at random.
    Without --negatives-per-epoch every window is used every epoch (the original behaviour)."""

    def __init__(self, x, y, generator, args):
        self.x, self.y, self.g, self.args = x, y, generator, args
        self.keyword_idx = torch.nonzero(torch.from_numpy(y) > 0).flatten()
        self.background_idx = torch.nonzero(torch.from_numpy(y) == 0).flatten()
        self.hard = None
        self.mined = []

    def epoch_size(self):
        if self.args.negatives_per_epoch is None:
            return int(self.y.shape[0])
        return int(self.keyword_idx.shape[0]) + min(self.args.negatives_per_epoch, int(self.background_idx.shape[0]))

    def indices(self, epoch, model):
        a = self.args
        if a.negatives_per_epoch is None:
            return torch.randperm(self.y.shape[0], generator=self.g)
        n_neg = min(a.negatives_per_epoch, int(self.background_idx.shape[0]))
        n_hard = 0
        if a.hard_negative_fraction > 0 and epoch + 1 >= a.hard_negative_start:
            if self.hard is None or (epoch + 1 - a.hard_negative_start) % a.hard_negative_every == 0:
                scores = keyword_scores(model, self.x[self.background_idx.numpy()])
                # Stable sort on (-score, index): ties cannot depend on the sort implementation.
                order = np.lexsort((np.arange(scores.shape[0]), -scores))
                self.hard = self.background_idx[torch.from_numpy(order[:int(round(a.hard_negative_fraction * n_neg))].copy())]
                self.mined.append({"epoch": epoch + 1, "poolSize": int(scores.shape[0]), "mined": int(self.hard.shape[0]),
                                   "lowestMinedScore": round(float(scores[order[self.hard.shape[0] - 1]]), 6) if self.hard.shape[0] else None,
                                   "poolAbove0.5": int((scores >= 0.5).sum())})
                print(json.dumps({"hardNegatives": self.mined[-1]}), flush=True)
            n_hard = int(self.hard.shape[0])
        chosen = [self.keyword_idx]
        if n_hard:
            chosen.append(self.hard)
            rest_mask = torch.ones(self.y.shape[0], dtype=torch.bool)
            rest_mask[self.hard] = False
            rest = self.background_idx[rest_mask[self.background_idx]]
        else:
            rest = self.background_idx
        pick = torch.randperm(rest.shape[0], generator=self.g)[:n_neg - n_hard]
        chosen.append(rest[pick])
        idx = torch.cat(chosen)
        return idx[torch.randperm(idx.shape[0], generator=self.g)]


def require_second_dataset(what, other_meta, base_name, base_meta):
    """A dataset trained on beside --dataset (--extra-negatives, --replay) must share its feature config and class list (one
    model reads one kind of window) and must not be --dataset itself."""
    for key in ("featureConfigHash", "windowFrames", "coefficients", "classes"):
        if other_meta[key] != base_meta[key]:
            fail(f"{what}: {key} is {other_meta[key]!r}, {base_name}'s is {base_meta[key]!r} (one feature config and class list per model)")
    if other_meta["datasetId"] == base_meta["datasetId"]:
        fail(f"{what} is {base_name} itself")


def split_speakers(dataset_path, split):
    """Speakers of one split, read from its lineage file (docs/dataset-format.md); fails when the file is missing, because the
    cross-dataset leakage check below cannot be made without it."""
    path = os.path.join(dataset_path, f"{split}.lineage.jsonl")
    if not os.path.isfile(path):
        fail(f"{path} is missing: the speaker leakage check of --extra-negatives needs every split's lineage")
    speakers = set()
    with open(path, "r", encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    speakers.add(json.loads(line)["speaker"])
                except (ValueError, KeyError):
                    fail(f"{path}:{n}: not a lineage record with a 'speaker'")
    return speakers


def load_extra_negatives(paths, meta, base_path, base_splits):
    """Background windows of other datasets' train splits, for the training pool only. Each must share --dataset's feature
    config and classes, and must not have trained on a voice that --dataset validates or tests on: the base's validation and
    test figures would then measure memorisation. Returns (x, y, records)."""
    held_out = set()
    for split in ("validation", "test"):
        if split in base_splits:
            held_out |= split_speakers(base_path, split)
    xs, records = [], []
    for path in paths:
        emeta, esplits = load_dataset(path, need_background=False)
        require_second_dataset(f"--extra-negatives {path}", emeta, "--dataset", meta)
        leaked = sorted(split_speakers(path, "train") & held_out)
        if leaked:
            fail(f"--extra-negatives {path}: {len(leaked)} of its train speakers are validation or test speakers of --dataset "
                 f"(e.g. {leaked[0]}); generate it with the base corpus's seed and speaker options so the splits agree")
        x, y = esplits["train"]
        keep = y == 0
        if not np.any(keep):
            fail(f"--extra-negatives {path}: its train split has no background (class 0) windows")
        xs.append(x[keep])
        records.append({"datasetId": emeta["datasetId"], "backgroundWindows": int(keep.sum()),
                        "keywordWindowsIgnored": int((~keep).sum())})
    x = np.concatenate(xs)
    return x, np.zeros(x.shape[0], dtype=np.int64), records


class ReplaySampler:
    """Windows of the base training dataset mixed into every fine-tuning epoch (rehearsal against forgetting): per epoch
    --replay-windows-per-epoch windows drawn without replacement from the base's train split, stratified by class in the
    base's own proportions (so each epoch's count of each class is fixed, and so are the class weights)."""

    def __init__(self, path, field_meta, generator, args, default_per_epoch):
        rmeta, rsplits = load_dataset(path)
        require_second_dataset(f"--replay {path}", rmeta, "the field dataset", field_meta)
        self.dataset_id = rmeta["datasetId"]
        self.x, self.y = rsplits["train"]
        self.test_x, self.test_y = rsplits.get("test", (None, None))
        self.g = generator
        self.per_epoch = min(args.replay_windows_per_epoch or default_per_epoch or int(self.y.shape[0]), int(self.y.shape[0]))
        self.by_class = [torch.nonzero(torch.from_numpy(self.y) == c).flatten() for c in range(len(field_meta["classes"]))]
        total = int(self.y.shape[0])
        # Largest-remainder rounding: the per-class counts sum to per_epoch exactly.
        raw = [self.per_epoch * idx.shape[0] / total for idx in self.by_class]
        counts = [int(math.floor(r)) for r in raw]
        for c in sorted(range(len(raw)), key=lambda c: (counts[c] - raw[c], c))[:self.per_epoch - sum(counts)]:
            counts[c] += 1
        self.counts = counts
        self.seen = 0

    def per_epoch_counts(self, classes):
        return torch.tensor(self.counts[:classes], dtype=torch.float32)

    def indices(self):
        picks = [idx[torch.randperm(idx.shape[0], generator=self.g)[:n]] for idx, n in zip(self.by_class, self.counts)]
        self.seen += self.per_epoch
        return torch.cat(picks)

    def record(self, epochs):
        return {"datasetId": self.dataset_id, "poolWindows": int(self.y.shape[0]), "windowsPerEpoch": self.per_epoch,
                "windowsPerEpochByClass": self.counts, "epochs": epochs, "windowsSeen": self.seen}


def main(argv):
    args = parse_args(argv)
    started = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = torch.Generator().manual_seed(args.seed)

    # A fine-tune with --replay may start from a field dataset without background windows (a day whose labeler decided only
    # true accepts): the replayed base windows supply them (checked below, once the replay is loaded).
    meta, splits = load_dataset(args.dataset, need_background=not (args.init_from is not None and args.replay is not None))
    classes = meta["classes"]
    frames, coeffs = int(meta["windowFrames"]), int(meta["coefficients"])
    cfg = feature_config(meta)
    x_train, y_train = splits["train"]
    extra_records = None
    if args.extra_negatives:
        x_extra, y_extra, extra_records = load_extra_negatives(args.extra_negatives, meta, args.dataset, splits)
        x_train, y_train = np.concatenate([x_train, x_extra]), np.concatenate([y_train, y_extra])
    order = torch.randperm(x_train.shape[0], generator=rng).numpy()
    if args.max_train is not None:
        order = order[:args.max_train]
    x_train, y_train = x_train[order], y_train[order]

    init_record, replay = None, None
    if args.init_from is not None:
        # The parent graph holds BN folded into every conv (trained as identity + conv bias) and the normalisation folded into
        # conv1: the identity here unless --init-input-normalisation took it back out (unfold_normalisation).
        model, parent, init_record = init_from_parent(args, classes, frames, coeffs, x_train)
        args.channels, args.blocks, args.time_dilations = parent.channels, len(parent.pairs), parent.dilations
        mean, std = args.init_input_normalisation or (0.0, 1.0)
        if args.replay is not None:
            field_epoch = int(x_train.shape[0]) if args.negatives_per_epoch is None else \
                int((y_train > 0).sum()) + min(args.negatives_per_epoch, int((y_train == 0).sum()))
            replay = ReplaySampler(args.replay, meta, rng, args, field_epoch)
    elif args.architecture == "temporal":
        # Per coefficient: conv1 spans every coefficient, so each column folds its own mean/std (fold_normalisation).
        mean = [float(v) for v in x_train.mean(axis=(0, 1), dtype=np.float64)]
        std = [float(v) or 1.0 for v in x_train.std(axis=(0, 1), dtype=np.float64)]
        model = DsCnn(len(classes), args.channels, args.blocks, mean, std, args.time_dilations, "temporal")
    else:
        # One scalar mean/std over all training features: foldable into conv1 exactly (a per-
        # coefficient one is not, because conv1 slides over coefficients).
        mean = float(x_train.mean(dtype=np.float64))
        std = float(x_train.std(dtype=np.float64)) or 1.0
        model = DsCnn(len(classes), args.channels, args.blocks, [mean] * coeffs, [std] * coeffs, args.time_dilations)
    # SpecAugment masks fill with the raw training mean ("no information" once normalised): per coefficient where the
    # normalisation is.
    args.fill_value = float(x_train.mean(dtype=np.float64)) if args.init_from is not None else \
        (torch.tensor(mean, dtype=torch.float32) if isinstance(mean, list) else mean)

    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train)
    if replay is not None:
        xt = torch.cat([xt, torch.from_numpy(replay.x)])
        yt = torch.cat([yt, torch.from_numpy(replay.y)])
    background = xt[yt == 0]
    if background.shape[0] == 0:
        fail("neither the training split nor the replay has background (class 0) windows; background mixing and false accepts need them")
    aug = Augmenter(cfg, coeffs, background, rng, args)

    sampler = EpochSampler(x_train, y_train, rng, args)
    # Class-balanced loss: keyword windows are rare next to background ones. With --negatives-per-epoch
    # the balance is that of an epoch (all keyword windows, negatives-per-epoch background ones).
    counts = torch.bincount(torch.from_numpy(y_train), minlength=len(classes)).float()
    if args.negatives_per_epoch is not None:
        counts[0] = float(min(args.negatives_per_epoch, int(counts[0])))
    if replay is not None:
        counts += replay.per_epoch_counts(len(classes))
    class_weights = torch.where(counts > 0, counts.sum() / (len(classes) * counts.clamp(min=1)), torch.zeros_like(counts))
    if args.class_weights is not None:
        if len(args.class_weights) != len(classes):
            fail(f"--class-weights has {len(args.class_weights)} weights, the dataset {len(classes)} classes")
        class_weights = torch.tensor(args.class_weights, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = max(1, math.ceil((sampler.epoch_size() + (replay.per_epoch if replay else 0)) / args.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(1, args.epochs * steps_per_epoch))
    history = []
    for epoch in range(args.epochs):
        perm = sampler.indices(epoch, model)
        if replay is not None:
            # The replayed base windows sit after the field windows in xt/yt.
            perm = torch.cat([perm, replay.indices() + x_train.shape[0]])
            perm = perm[torch.randperm(perm.shape[0], generator=rng)]
        model.train()
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, perm.shape[0], args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb = aug(xt[idx]).unsqueeze(1)
            yb = yt[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, weight=class_weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * idx.shape[0]
            correct += int((logits.argmax(1) == yb).sum())
            total += idx.shape[0]
        row = {"epoch": epoch + 1, "loss": round(loss_sum / total, 6), "trainAccuracyAugmented": round(correct / total, 6)}
        if "validation" in splits:
            row["validationAccuracy"] = split_metrics(predict(model, splits["validation"][0]), splits["validation"][1])["accuracy"]
        history.append(row)
        print(json.dumps(row), flush=True)

    model.eval()
    metrics = {name: split_metrics(predict(model, x), y) for name, (x, y) in splits.items()}
    metrics["train"] = split_metrics(predict(model, x_train), y_train)
    if replay is not None:
        # How much of the base it still knows: the base dataset's test split (never trained on, here or in the base run).
        metrics["replayBaseTest"] = split_metrics(predict(model, replay.test_x), replay.test_y) if replay.test_x is not None else {"count": 0}

    os.makedirs(args.out, exist_ok=True)
    # Fold the normalisation into conv1 and check the folded network computes the same function.
    check_x = torch.from_numpy(x_train[:16]).unsqueeze(1)
    with torch.no_grad():
        before = F.softmax(model(check_x), dim=1)
        fold_normalisation(model)
        after = F.softmax(model(check_x), dim=1)
    if not torch.allclose(before, after, atol=1e-4):
        fail(f"folding the input normalisation changed the outputs by {float((before - after).abs().max())}")
    onnx_path = os.path.join(args.out, "model.float.onnx")
    dummy = torch.zeros(1, 1, frames, coeffs)
    torch.onnx.export(ExportWrapper(model), dummy, onnx_path, opset_version=OPSET,
                      input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)

    import onnx  # only needed here; fail late with a clear message if missing
    onnx_model = onnx.load(onnx_path)
    onnx.checker.check_model(onnx_model)
    ops = sorted({n.op_type for n in onnx_model.graph.node})
    onnx_params = int(sum(int(np.prod(t.dims)) for t in onnx_model.graph.initializer))

    commit, dirty = git_commit()
    val = metrics.get("validation", {})
    manifest = {
        "formatVersion": MANIFEST_FORMAT,
        "datasetId": meta["datasetId"],
        "featureConfigHash": meta["featureConfigHash"],
        "featureConfig": meta.get("featureConfig"),
        "classes": classes,
        "codeCommit": commit,
        "codeDirty": dirty,
        "trainer": "tools/train/train.py",
        "seed": args.seed,
        "tiny": args.tiny,
        "hyperparameters": {
            "architecture": model.architecture,
            "channels": args.channels, "blocks": args.blocks, "conv1": list(model.conv1_kernel), "conv1Stride": list(model.conv1_stride),
            "timeDilations": args.time_dilations or [1] * args.blocks,
            "epochs": args.epochs, "batchSize": args.batch_size, "optimizer": "adam", "lr": args.lr,
            "schedule": "one-cycle", "loss": "class-balanced cross-entropy",
            "classWeights": [round(float(w), 6) for w in class_weights],
            "classWeightsFrom": "--class-weights" if args.class_weights is not None else "epoch mix", "weightDecay": args.weight_decay, "dropout": 0.2,
            "maxTrain": args.max_train, "threads": args.threads,
            "negativesPerEpoch": args.negatives_per_epoch,
            "hardNegativeMining": {"fraction": args.hard_negative_fraction, "startEpoch": args.hard_negative_start,
                                   "everyEpochs": args.hard_negative_every, "rounds": sampler.mined}
            if args.hard_negative_fraction > 0 else None,
            "augmentation": {
                "maxShiftFrames": args.max_shift_frames, "timeMaskFrames": args.time_mask_frames,
                "coefficientMask": args.coeff_mask, "mixProbability": args.mix_prob, "frequencyWarp": args.freq_warp,
                "mixGainDb": [args.mix_min_db, args.mix_max_db],
            },
            "inputNormalisation": {"mean": mean, "std": std, "foldedIntoConv1": True},
        },
        "parameters": {"trainable": count_parameters(model), "inference": inference_parameter_count(model),
                       "onnxInitializerValues": onnx_params},
        "onnx": {"file": "model.float.onnx", "sha256": sha256_file(onnx_path), "sizeBytes": os.path.getsize(onnx_path),
                 "opset": OPSET, "ops": ops, "input": {"name": INPUT_NAME, "shape": [1, 1, frames, coeffs], "elementType": "float"},
                 "output": {"name": OUTPUT_NAME, "shape": [1, len(classes)]}},
        "windowFrames": frames,
        "coefficients": coeffs,
        "metrics": metrics,
        "suggestedThreshold": suggest_threshold(val),
        "history": history,
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__, "onnx": onnx.__version__},
        "trainingSeconds": round(time.time() - started, 2),
    }
    if init_record is not None:
        manifest["initFrom"] = init_record
        unfolded = args.init_input_normalisation is not None
        manifest["hyperparameters"]["fineTune"] = {
            "form": "BatchNorm as identity (folded into the parent's convs); input normalisation "
                    + ("the parent's, taken out of conv1 for training and folded back at export" if unfolded
                       else "mean 0 / std 1 (left folded in the parent's conv1)"),
            "lr": args.lr, "epochs": args.epochs, "weightDecay": args.weight_decay}
        # The normalisation conv1 holds: what the next fine-tune of this model passes as --init-input-normalisation.
        manifest["hyperparameters"]["inputNormalisation"] = {"mean": mean, "std": std, "foldedIntoConv1": True,
                                                              "inheritedFrom": init_record["sha256"]}
    # Every dataset whose windows were trained on (the leakage check of a fine-tune's gate reads it).
    manifest["trainedOnDatasetIds"] = [meta["datasetId"]] + [r["datasetId"] for r in extra_records or []] \
        + ([replay.dataset_id] if replay is not None else [])
    if extra_records is not None:
        manifest["extraNegatives"] = extra_records
    if replay is not None:
        manifest["replay"] = replay.record(args.epochs)
    with open(os.path.join(args.out, "training-manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps({"onnx": onnx_path, "sha256": manifest["onnx"]["sha256"], "parameters": manifest["parameters"],
                      "testAccuracy": metrics.get("test", {}).get("accuracy"),
                      "validationAccuracy": val.get("accuracy"), "seconds": manifest["trainingSeconds"]}))


if __name__ == "__main__":
    main(sys.argv[1:])
