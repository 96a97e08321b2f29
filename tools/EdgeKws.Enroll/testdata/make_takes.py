#!/usr/bin/python3
"""Generates enrollment takes for the tests, the calibration and the docs (nothing is committed).

Usage: /usr/bin/python3 tools/EdgeKws.Enroll/testdata/make_takes.py OUT_DIR

Speech comes from espeak-ng (voice "en", one synthetic "speaker" varied in rate and pitch) and flite;
sox trims, resamples to 16 kHz mono and applies tempo/gain; sox also synthesizes the noise
(repeatable: -R). The mix is done here at an exact SNR: speech power = mean power of the trimmed
utterance, noise power = mean power of the noise. Every take is 16 kHz mono 16-bit WAV:
lead-in noise, the utterance, trailing noise.

Files written (name -> what it is, the verdict the tests expect):
  good_1..good_6.wav      "hey edge", rates 135-152 wpm, pitch 40-60, 30 dB SNR    -> accepted
  snr30.wav               good take at 30 dB SNR                                  -> accepted
  snr14.wav, snr10.wav    good take at 14 / 10 dB SNR                             -> lowSnr
  clipped.wav             good take +20 dB gain, clipped at full scale              -> clipped
  short.wav               "edge" alone                                            -> tooShort
  long.wav                "hey edge" at 70 wpm                                    -> tooLong
  quiet.wav               good take with speech RMS at -45 dBFS                   -> tooQuiet
  silence.wav             noise only, no speech                                   -> noSpeech
  other_phrase.wav        "good night", same voice                                -> inconsistent
  flite_*.wav             "hey edge" by flite voices (other speakers), 30 dB SNR
  cal_same_*.wav, cal_diff_*.wav   calibration sets for the DTW threshold
  takes5.raw              good_1..good_5 concatenated with 1 s pauses, raw S16LE (fake microphone infile)
"""
import os
import subprocess
import sys
import wave

import numpy as np

RATE = 16000


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


def write_wav(path, x):
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def speech(tmp, name, text, engine="espeak", rate=175, pitch=50, voice="en", tempo=None):
    """Synthesized utterance, trimmed of leading/trailing silence, 16 kHz mono, peak -3 dBFS."""
    raw = os.path.join(tmp, name + ".synth.wav")
    out = os.path.join(tmp, name + ".speech.wav")
    if engine == "espeak":
        run("espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", raw, text)
    else:
        run("flite", "-voice", voice, "-t", text, "-o", raw)
    effects = ["silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse"]
    if tempo:
        effects += ["tempo", "-s", str(tempo)]
    run("sox", "-D", "-R", raw, "-r", str(RATE), "-c", "1", "-b", "16", out, *effects, "gain", "-n", "-3")
    return read_wav(out)


def noise(tmp, name, seconds, kind="whitenoise"):
    out = os.path.join(tmp, name + ".noise.wav")
    run("sox", "-D", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", out, "synth", str(seconds), kind, "gain", "-n", "-20")
    return read_wav(out)


def take(tmp, name, utterance, snr_db, lead_s=0.5, tail_s=0.6, speech_rms_dbfs=None, gain_db=0.0, kind="whitenoise"):
    """lead noise + utterance + tail noise, noise scaled for an exact SNR against the utterance's mean power."""
    u = utterance.copy()
    if speech_rms_dbfs is not None:
        u *= 10 ** (speech_rms_dbfs / 20) / np.sqrt(np.mean(u ** 2))
    u *= 10 ** (gain_db / 20)
    lead, tail = int(lead_s * RATE), int(tail_s * RATE)
    total = lead + len(u) + tail
    n = noise(tmp, name, total / RATE + 0.1, kind)[:total]
    if snr_db is None:
        n[:] = 0
    else:
        p_speech = np.mean(u ** 2)
        n *= np.sqrt(p_speech / 10 ** (snr_db / 10) / np.mean(n ** 2))
    x = n.copy()
    x[lead:lead + len(u)] += u
    return x


def main():
    out = sys.argv[1]
    tmp = os.path.join(out, "work")
    os.makedirs(tmp, exist_ok=True)
    phrase = "hey edge"
    variants = [(145, 50), (138, 45), (152, 55), (142, 60), (148, 40), (135, 50)]
    goods = []
    for i, (rate, pitch) in enumerate(variants, 1):
        u = speech(tmp, f"good{i}", phrase, rate=rate, pitch=pitch)
        x = take(tmp, f"good_{i}", u, 30, lead_s=0.4 + 0.05 * i)
        write_wav(os.path.join(out, f"good_{i}.wav"), x)
        goods.append(x)

    base = speech(tmp, "base", phrase, rate=145)
    write_wav(os.path.join(out, "snr30.wav"), take(tmp, "snr30", base, 30))
    write_wav(os.path.join(out, "snr14.wav"), take(tmp, "snr14", base, 14))
    write_wav(os.path.join(out, "snr10.wav"), take(tmp, "snr10", base, 10))
    write_wav(os.path.join(out, "clipped.wav"), take(tmp, "clipped", base, 30, gain_db=20))
    write_wav(os.path.join(out, "short.wav"), take(tmp, "short", speech(tmp, "short", "edge"), 30))
    write_wav(os.path.join(out, "long.wav"), take(tmp, "long", speech(tmp, "long", phrase, rate=70), 30))
    write_wav(os.path.join(out, "quiet.wav"), take(tmp, "quiet", base, 30, speech_rms_dbfs=-45))
    write_wav(os.path.join(out, "silence.wav"), noise(tmp, "silence", 1.6)[: int(1.6 * RATE)] * 10 ** (-40 / 20))
    write_wav(os.path.join(out, "other_phrase.wav"), take(tmp, "other", speech(tmp, "other", "good night", rate=145), 30))
    for v in ("kal16", "slt", "rms", "awb"):
        write_wav(os.path.join(out, f"flite_{v}.wav"), take(tmp, f"flite_{v}", speech(tmp, f"flite{v}", phrase, engine="flite", voice=v), 30))

    # Calibration: same phrase, same espeak voice, other rates/pitches/noise colours/SNRs ...
    same = [(130, 50, 35, "whitenoise"), (158, 50, 25, "pinknoise"), (145, 35, 30, "pinknoise"),
            (145, 65, 40, "whitenoise"), (140, 52, 22, "pinknoise"), (150, 48, 28, "whitenoise")]
    for i, (rate, pitch, snr, kind) in enumerate(same, 1):
        u = speech(tmp, f"cs{i}", phrase, rate=rate, pitch=pitch)
        write_wav(os.path.join(out, f"cal_same_{i}.wav"), take(tmp, f"cal_same_{i}", u, snr, kind=kind))
    # ... and other phrases of a similar length from the same voice.
    for i, text in enumerate(["hello there", "okay house", "good night", "hey google", "stop music", "hey edgar", "play edge"], 1):
        u = speech(tmp, f"cd{i}", text, rate=145)
        write_wav(os.path.join(out, f"cal_diff_{i}.wav"), take(tmp, f"cal_diff_{i}", u, 30))

    # Fake microphone infile: five good takes with one second of quiet noise between them.
    g = noise(tmp, "gap", 1.1)[:RATE]
    gap = g * 10 ** (-50 / 20) / np.sqrt(np.mean(g ** 2))
    stream = []
    for x in goods[:5]:
        stream += [x, gap]
    s = np.concatenate(stream)
    np.clip(np.round(s * 32768.0), -32768, 32767).astype("<i2").tofile(os.path.join(out, "takes5.raw"))


if __name__ == "__main__":
    main()
