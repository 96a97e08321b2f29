#!/usr/bin/python3
"""Generates the MFCC parity fixtures: deterministic signals and torchaudio's Kaldi MFCCs of them.

Run with Debian's interpreter (it has torch and torchaudio):
    /usr/bin/python3 tools/parity/mfcc_golden.py [--out tests/fixtures/mfcc]

For every fixture it writes
    <name>.s16          the signal, raw little-endian int16, 16 kHz mono
    <name>.golden.f64   torchaudio.compliance.kaldi.mfcc of it computed in float64, little-endian
                        float64, frames x coefficients
and one manifest.json listing them with the EdgeKws canonical MFCC config (the same text
MfccConfig.ToCanonicalString() writes) and its SHA-256, so the C# tests also check that both
languages agree on the canonical form and the FeatureConfigHash.

Everything is deterministic: numpy's seeded generator for noise, closed-form tones and chirp,
espeak-ng + sox (without dither) for the speech. torchaudio runs single-threaded, dither=0.

Why float64: torchaudio's Kaldi code follows the waveform's dtype. In float32 its rounding noise
(pre-emphasis, window, FFT) sits about 140 dB under the strongest FFT bin, above the true level of
far-off mel bands for tones and chirps, so its float32 MFCCs differ from the exact Kaldi maths by up
to ~3e-3 (per-frame relative) on these signals. The float64 run is the reference the 1e-3 parity
bound is checked against; the manifest also records how far torchaudio's float32 run is from it.
"""
import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchaudio

SR = 16000
FLOAT_EPS = 1.1920928955078125e-07  # Kaldi's fixed floor on mel energies (float32 epsilon)

# EdgeKws MfccConfig.Default, in canonical key order.
DEFAULT = {
    "format": "edgekws-mfcc/1",
    "sample_rate_hz": 16000,
    "window_ms": 25,
    "hop_ms": 10,
    "fft_size": 512,
    "window": "povey",
    "preemphasis": 0.97,
    "remove_dc_offset": True,
    "mel_bins": 40,
    "mel_low_hz": 20,
    "mel_high_hz": 7600,
    "coefficients": 13,
    "cepstral_lifter": 22,
    "log_floor": FLOAT_EPS,
    "use_energy": False,
    "energy_floor": 1,
    "reference_level": 32768,
    "dither": 0,
    "snip_edges": True,
    "int8_scale": 1.2,
    "int8_zero_point": 0,
}


def canonical_number(x):
    """Same rule as MfccConfig.Num: integral values below 1e15 as integers, else shortest repr."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x == math.floor(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def canonical(cfg):
    parts = []
    for key, value in cfg.items():
        text = json.dumps(value) if isinstance(value, str) else canonical_number(value)
        parts.append(json.dumps(key) + ":" + text)
    return "{" + ",".join(parts) + "}"


def kaldi_mfcc(signal_s16, cfg, dtype=np.float64):
    """torchaudio's Kaldi MFCC with every option stated explicitly from the EdgeKws config."""
    window_samples = round(cfg["sample_rate_hz"] * cfg["window_ms"] / 1000)
    # torchaudio can only pad to the next power of two; the fixtures must use exactly that.
    assert cfg["fft_size"] == 1 << (window_samples - 1).bit_length(), "fft_size must be next_pow2(window)"
    assert cfg["log_floor"] == FLOAT_EPS, "torchaudio fixes the mel floor at float32 epsilon"
    assert cfg["reference_level"] == 32768, "golden signals are fed at int16 scale"
    window_type = {"povey": "povey", "hamming": "hamming", "hann": "hanning", "rectangular": "rectangular"}[cfg["window"]]
    # Kaldi works on int16-scale values: the int16 samples go in as float32 without normalization.
    waveform = torch.from_numpy(signal_s16.astype(dtype)).unsqueeze(0)
    feats = torchaudio.compliance.kaldi.mfcc(
        waveform,
        sample_frequency=float(cfg["sample_rate_hz"]),
        frame_length=float(cfg["window_ms"]),
        frame_shift=float(cfg["hop_ms"]),
        round_to_power_of_two=True,
        window_type=window_type,
        blackman_coeff=0.42,
        preemphasis_coefficient=float(cfg["preemphasis"]),
        remove_dc_offset=bool(cfg["remove_dc_offset"]),
        num_mel_bins=int(cfg["mel_bins"]),
        low_freq=float(cfg["mel_low_hz"]),
        high_freq=float(cfg["mel_high_hz"]),
        num_ceps=int(cfg["coefficients"]),
        cepstral_lifter=float(cfg["cepstral_lifter"]),
        use_energy=bool(cfg["use_energy"]),
        energy_floor=float(cfg["energy_floor"]),
        raw_energy=True,
        dither=0.0,
        snip_edges=True,
        htk_compat=False,
        subtract_mean=False,
        min_duration=0.0,
        vtln_warp=1.0,
        channel=-1,
    )
    return feats.numpy()


def frame_error(ours, golden):
    """The parity metric: max over frames of max_k |c - g| / max(max_k |g|, 1).

    Relative to the frame's largest coefficient (C0 or log energy, typically 10-150 at int16 scale);
    absolute for frames whose coefficients are all below 1, which only digital silence produces and
    where the true cepstrum is 0 (torchaudio's float32 DCT table leaves ~4e-4 of noise there)."""
    diff = np.abs(ours.astype(np.float64) - golden).max(axis=1)
    scale = np.maximum(np.abs(golden).max(axis=1), 1.0)
    return float((diff / scale).max()) if len(diff) else 0.0


def to_s16(x):
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")


def speech(text):
    """espeak-ng speech resampled to 16 kHz by sox without dither, as raw int16."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "speech.wav")
        raw = os.path.join(tmp, "speech.s16")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", wav, text], check=True)
        subprocess.run(["sox", "-D", "-V1", wav, "-r", str(SR), "-c", "1", "-b", "16", "-e", "signed-integer",
                        "-t", "raw", "-L", raw], check=True)
        return np.fromfile(raw, dtype="<i2")


def signals():
    t = np.arange(SR // 2) / SR  # 0.5 s keeps the fixtures small
    rng = np.random.default_rng(20261123)
    chirp_phase = 2 * np.pi * (100 * t + (7000 - 100) / (2 * t[-1]) * t * t / 1.0)
    silence_tone = np.zeros_like(t)
    silence_tone[SR // 4:] = 0.3 * np.sin(2 * np.pi * 1000 * t[SR // 4:])
    talk = speech("hey edge")
    return {
        "tone_440": to_s16(0.5 * np.sin(2 * np.pi * 440 * t)),
        "tone_3k_quiet": to_s16(0.01 * np.sin(2 * np.pi * 3000 * t + 0.3)),
        "chirp": to_s16(0.4 * np.sin(chirp_phase)),
        "white_noise": to_s16(np.clip(0.2 * rng.standard_normal(t.size), -1, 1)),
        "silence_then_tone": to_s16(silence_tone),
        "speech_hey_edge": talk,
    }


def variants():
    """(fixture name, signal name, config overrides): the default config on every signal, plus
    variants that exercise every option the C# front end exposes to torchaudio."""
    out = [(name, name, {}) for name in signals_names()]
    out.append(("speech_hamming_energy", "speech_hey_edge",
                {"window": "hamming", "use_energy": True, "energy_floor": 1}))
    out.append(("noise_hann_23bins", "white_noise",
                {"window": "hann", "mel_bins": 23, "mel_low_hz": 64, "mel_high_hz": 8000,
                 "remove_dc_offset": False, "preemphasis": 0, "cepstral_lifter": 0}))
    out.append(("chirp_rect_32ms", "chirp",
                {"window": "rectangular", "window_ms": 32, "hop_ms": 16, "coefficients": 20,
                 "use_energy": True, "energy_floor": 0}))
    out.append(("silence_energy_floor", "silence_then_tone",
                {"use_energy": True, "energy_floor": 100.0, "mel_bins": 26, "cepstral_lifter": 10.5}))
    return out


def signals_names():
    return ["tone_440", "tone_3k_quiet", "chirp", "white_noise", "silence_then_tone", "speech_hey_edge"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "fixtures", "mfcc"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    sigs = signals()
    for name, sig in sigs.items():
        sig.astype("<i2").tofile(os.path.join(args.out, name + ".s16"))

    manifest = {"generator": "tools/parity/mfcc_golden.py", "torchaudio": torchaudio.__version__,
                "torch": torch.__version__, "fixtures": []}
    for name, signal_name, overrides in variants():
        cfg = dict(DEFAULT)
        cfg.update(overrides)
        text = canonical(cfg)
        golden = kaldi_mfcc(sigs[signal_name], cfg).astype("<f8")
        golden.tofile(os.path.join(args.out, name + ".golden.f64"))
        f32_gap = frame_error(kaldi_mfcc(sigs[signal_name], cfg, np.float32), golden)
        manifest["fixtures"].append({
            "name": name,
            "signal": signal_name + ".s16",
            "golden": name + ".golden.f64",
            "frames": int(golden.shape[0]),
            "coefficients": int(golden.shape[1]),
            "config": text,
            "feature_config_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "torchaudio_float32_error": f32_gap,
        })
        print(f"{name}: {golden.shape[0]} frames x {golden.shape[1]}, torchaudio float32 vs float64 {f32_gap:.3e}",
              file=sys.stderr)

    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
