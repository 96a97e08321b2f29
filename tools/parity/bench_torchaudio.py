#!/usr/bin/python3
"""Measures torchaudio's MFCC front ends on one core, for docs/benchmarks.md.

    /usr/bin/python3 tools/parity/bench_torchaudio.py [--seconds 600] [--repeats 3] [--wav FILE] [--json]

--wav times the given 16 kHz mono 16-bit WAV instead (the bench report passes the very file it timed
EdgeKws on); --json prints one JSON object instead of the table (read by tools/EdgeKws.Bench).

Generates the same kind of audio as tools/EdgeKws.Bench (voiced harmonics, tones, noise; int16
scale), then times, single-threaded (torch.set_num_threads(1)), the batch call on the whole clip:
  * torchaudio.compliance.kaldi.mfcc  (the Kaldi-compatible reference, float32, EdgeKws defaults)
  * torchaudio.transforms.MFCC        (the common torchaudio front end: 512-point STFT, 400-sample
                                       window, 160 hop, 40 mels, 13 coefficients; different maths,
                                       timed for scale)
and prints the best-of-N wall-clock and process-CPU microseconds per frame and the implied time for one hour of audio. The
clip defaults to 10 minutes (60,000 frames) so memory stays small; per-frame cost is flat in length.
"""
import argparse
import json
import platform
import time
import wave as wavfile

import numpy as np
import torch
import torchaudio

SR = 16000


def audio(seconds, seed=1):
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(h * phase) / h for h in range(1, 9))
    gate = 0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t)
    noise = (np.random.default_rng(seed).random(t.size) - 0.5) * 600
    return np.clip(4000 * gate * voice + noise, -32768, 32767).astype(np.int16)


def read_wav(path):
    with wavfile.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != SR:
            raise SystemExit(f"{path}: need 16 kHz mono 16-bit PCM, got {w.getframerate()} Hz, "
                             f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()} bit")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def best(fn, repeats):
    """Best wall time and best process CPU time over the repeats (CPU time is what to compare on a
    shared machine: it leaves out the time the process waited for a core)."""
    walls, cpus = [], []
    for _ in range(repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return min(walls), min(cpus), out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wav", help="time this 16 kHz mono 16-bit WAV instead of generated audio")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    samples = read_wav(args.wav) if args.wav else audio(args.seconds)
    seconds = samples.size / SR
    wave = torch.from_numpy(samples.astype(np.float32)).unsqueeze(0)  # int16 scale, Kaldi style

    def kaldi():
        return torchaudio.compliance.kaldi.mfcc(
            wave, sample_frequency=16000.0, frame_length=25.0, frame_shift=10.0, round_to_power_of_two=True,
            window_type="povey", preemphasis_coefficient=0.97, remove_dc_offset=True, num_mel_bins=40,
            low_freq=20.0, high_freq=7600.0, num_ceps=13, cepstral_lifter=22.0, use_energy=False,
            energy_floor=1.0, raw_energy=True, dither=0.0, snip_edges=True)

    transform = torchaudio.transforms.MFCC(
        sample_rate=SR, n_mfcc=13, log_mels=True,
        melkwargs={"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 40, "f_min": 20.0, "f_max": 7600.0})
    normalized = wave / 32768.0

    def transforms():
        return transform(normalized)

    kaldi()  # warm-up
    transforms()
    results = []
    for name, fn in (("compliance.kaldi.mfcc", kaldi), ("transforms.MFCC", transforms)):
        wall, cpu, out = best(fn, args.repeats)
        frames = out.shape[0] if name.startswith("compliance") else out.shape[-1]
        results.append({"name": name, "frames": int(frames), "wallSeconds": wall, "cpuSeconds": cpu})
    if args.json:
        print(json.dumps({"torch": torch.__version__, "torchaudio": torchaudio.__version__, "threads": torch.get_num_threads(),
                          "machine": platform.processor() or platform.machine(), "audioSeconds": seconds,
                          "repeats": args.repeats, "results": results}))
        return
    print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}, clip {seconds:g} s, best of {args.repeats}")
    for r in results:
        us_wall, us_cpu = r["wallSeconds"] / r["frames"] * 1e6, r["cpuSeconds"] / r["frames"] * 1e6
        print(f"{r['name']:24s} {r['frames']:7d} frames  wall {us_wall:7.3f} us/frame ({us_wall * 0.36:6.2f} s/hour)  "
              f"cpu {us_cpu:7.3f} us/frame ({us_cpu * 0.36:6.2f} s/hour)")

if __name__ == "__main__":
    main()
