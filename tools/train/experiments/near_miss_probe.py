#!/usr/bin/python3
"""Near-miss probe: how well a small CNN tells the wake phrase from its near misses, for a given cepstral view, and where
it fails. A quick experiment to choose the gateway verifier's next step (docs/labeling.md "Tried: a wider cepstral view"),
not part of any shipped recipe.

Reads a corpus (edgekws-corpus/1), cuts the 1 s window centred on each keyword / near-miss clip as the dataset export does,
computes Kaldi-compatible MFCCs with N cepstral coefficients in numpy (the project's front end with N = 13 agrees with it to
within 1e-5 on the exported features; --check verifies that on the first exported train row), trains a fixed small
dilated DS-CNN on the train split's keyword-vs-near-miss windows and reports, on the validation split (other speakers and
rooms): ROC AUC per epoch; then, per near-miss phrase, the share scored above the keyword clips' 10th percentile, and AUC
by SNR, noise kind, room, microphone and voice.

    /usr/bin/python3 tools/train/experiments/near_miss_probe.py --corpus artifacts/m13/corpus --coefficients 13 --out /tmp/probe13
    (12 epochs, about 13 min on one core; 40 coefficients: about 3x the compute)
"""
import argparse, collections, json, os, time, wave

import numpy as np
import torch


def kaldi_mfcc_tables(coefficients):
    # Kaldi MFCC: snip edges, DC removal, pre-emphasis 0.97, Povey window, 512-point FFT, 40 mel bins 20-7600 Hz, log power,
    # orthonormal DCT-II, cepstral lifter 22 (the device's edgekws-mfcc/1 settings except the coefficient count).
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    mel = lambda f: 1127 * np.log(1 + f / 700)
    centres = np.linspace(mel(20), mel(7600), 42)
    fm = mel(np.arange(257) * 16000 / 512)
    fb = np.zeros((40, 257))
    for i in range(40):
        l, c, r = centres[i], centres[i + 1], centres[i + 2]
        fb[i] = np.clip(np.minimum((fm - l) / (c - l), (r - fm) / (r - c)), 0, None) * (fm > l) * (fm < r)
    k = np.arange(40)
    dct = np.sqrt(2 / 40) * np.cos(np.pi / 40 * (k[None, :] + 0.5) * np.arange(40)[:, None])
    dct[0] *= np.sqrt(0.5)
    lifter = 1 + 11 * np.sin(np.pi * np.arange(40) / 22)
    return win, fb, dct, lifter


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--coefficients", type=int, default=13)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--out", required=True)
    p.add_argument("--check", help="an exported dataset of the same corpus: compare the first keyword row with --coefficients 13")
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    os.makedirs(a.out, exist_ok=True)
    m = json.load(open(os.path.join(a.corpus, "manifest.json")))
    win, fb, dct, lifter = kaldi_mfcc_tables(a.coefficients)

    def window(f):
        w = wave.open(os.path.join(a.corpus, f["path"]))
        assert w.getframerate() == 16000 and w.getsampwidth() == 2 and w.getnchannels() == 1, f["path"]
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        s, e = (f["speechStartMs"], f["speechEndMs"]) if f["kind"] == "near-miss" else (f["keywordEvents"][0]["startMs"], f["keywordEvents"][0]["endMs"])
        start = int(round((s + e) / 2 - 500) * 16)  # CorpusDatasetBuilder.WindowStartMs, centred
        out = np.zeros(16000, np.float32)
        lo, hi = max(0, start), min(len(x), start + 16000)
        out[lo - start:hi - start] = x[lo:hi]
        return out

    def features(x):
        x = x * 32768
        n = 1 + (len(x) - 400) // 160
        fr = np.stack([x[i * 160:i * 160 + 400] for i in range(n)]).astype(np.float64)
        fr -= fr.mean(1, keepdims=True)
        fr = np.concatenate([fr[:, :1] - 0.97 * fr[:, :1], fr[:, 1:] - 0.97 * fr[:, :-1]], 1) * win
        logmel = np.log(np.maximum((np.abs(np.fft.rfft(fr, 512)) ** 2) @ fb.T, 1.1920928955078125e-07))
        return ((logmel @ dct.T) * lifter)[:, :a.coefficients].astype(np.float32)

    if a.check:
        lineage = json.loads(open(os.path.join(a.check, "train.lineage.jsonl")).readline())
        exported = np.load(os.path.join(a.check, "train.features.npy"), mmap_mode="r")[0]
        f = next(f for f in m["files"] if f["path"] == lineage["sourceRecording"])
        print(json.dumps({"check": f["path"], "maxAbsDifference": float(np.abs(features(window(f)) - exported).max())}))

    speakers = {s["id"]: s for s in m["speakers"]}
    data = {}
    for split in ("train", "validation"):
        files = [f for f in m["files"] if f["split"] == split and f["kind"] in ("keyword", "near-miss")]
        data[split] = (np.stack([features(window(f)) for f in files]), np.array([f["kind"] == "keyword" for f in files]), files)
    mean, sd = data["train"][0].mean((0, 1)), data["train"][0].std((0, 1)) + 1e-5
    norm = lambda x: torch.from_numpy((x - mean) / sd).unsqueeze(1)

    c = 48
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, c, (10, 4), (2, 2), (4, 1)), torch.nn.BatchNorm2d(c), torch.nn.ReLU(),
        *[layer for d in (1, 2, 4, 8) for layer in (torch.nn.Conv2d(c, c, (3, 3), 1, (d, 1), (d, 1), groups=c), torch.nn.Conv2d(c, c, 1),
                                                    torch.nn.BatchNorm2d(c), torch.nn.ReLU())],
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(c, 2))
    opt = torch.optim.Adam(net.parameters(), 3e-3, weight_decay=1e-4)
    xt, yt = norm(data["train"][0]), torch.from_numpy(data["train"][1].astype(np.int64))
    xv, yv, files = norm(data["validation"][0]), data["validation"][1], data["validation"][2]

    def auc(score, y):
        if y.all() or (~y).all():
            return float("nan")
        rank = np.empty(len(score))
        rank[np.argsort(score)] = np.arange(len(score))
        n1, n0 = y.sum(), len(y) - y.sum()
        return float((rank[y].sum() - n1 * (n1 - 1) / 2) / (n1 * n0))

    t0 = time.time()
    for epoch in range(a.epochs):
        net.train()
        perm = torch.randperm(len(yt))
        for i in range(0, len(perm), 64):
            b = perm[i:i + 64]
            x = torch.roll(xt[b], np.random.randint(-15, 16), 2)  # +-150 ms shift, as the trainer's
            loss = torch.nn.functional.cross_entropy(net(x), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            score = torch.softmax(torch.cat([net(xv[i:i + 256]) for i in range(0, len(xv), 256)]), 1)[:, 1].numpy()
        print(json.dumps({"epoch": epoch + 1, "seconds": round(time.time() - t0), "validationAuc": round(auc(score, yv), 4)}), flush=True)

    p10 = np.quantile(score[yv], 0.10)
    result = {"coefficients": a.coefficients, "epochs": a.epochs, "validationAuc": auc(score, yv), "keywordScoreP10": float(p10)}
    phrase = np.array([f["transcript"] for f in files])
    result["nearMissAboveKeywordP10"] = {t: float((score[~yv & (phrase == t)] >= p10).mean()) for t in sorted(set(phrase[~yv]))}
    groups = {"snr": lambda f: str(f.get("snrDb", "clean")), "noise": lambda f: f.get("noise", "none"), "room": lambda f: f["roomClass"],
              "microphone": lambda f: f["microphone"].split("~")[0], "voice": lambda f: speakers[f["speaker"]]["engine"] + ":" + speakers[f["speaker"]]["voice"]}
    for name, key in groups.items():
        v = np.array([key(f) for f in files])
        result["aucBy" + name[0].upper() + name[1:]] = {g: {"auc": auc(score[v == g], yv[v == g]), "clips": int((v == g).sum())} for g in sorted(set(v))}
    json.dump(result, open(os.path.join(a.out, "result.json"), "w"), indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
