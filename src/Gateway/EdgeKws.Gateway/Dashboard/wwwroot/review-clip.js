"use strict";
// The review page's clip view: parses the gateway's 16-bit PCM WAV, draws its waveform and a spectrogram on <canvas>.
// Spectrogram: 25 ms Hann frames, 10 ms hop, zero-padded to a power of two, radix-2 FFT, power in dB over a 70 dB range,
// linear frequency from 0 (bottom) to half the sample rate (top). Plain JS, no libraries.

const ReviewClip = (() => {
  const RangeDb = 70;
  const WaveBackground = "#ffffff", WaveColour = "#1d6fd1", AxisColour = "#d5dde5";

  // The samples of a mono or multi-channel 16-bit PCM WAV as floats in [-1, 1) (first channel), and its rate; throws naming why not.
  function parseWav(buffer) {
    const v = new DataView(buffer);
    const tag = (at) => String.fromCharCode(v.getUint8(at), v.getUint8(at + 1), v.getUint8(at + 2), v.getUint8(at + 3));
    if (buffer.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a RIFF/WAVE file");
    let rate = 0, channels = 0, bits = 0, at = 12;
    while (at + 8 <= buffer.byteLength) {
      const id = tag(at), size = v.getUint32(at + 4, true), body = at + 8;
      if (id === "fmt ") {
        if (v.getUint16(body, true) !== 1) throw new Error("not PCM");
        channels = v.getUint16(body + 2, true);
        rate = v.getUint32(body + 4, true);
        bits = v.getUint16(body + 14, true);
      } else if (id === "data") {
        if (bits !== 16 || channels < 1) throw new Error(`unsupported format: ${bits} bits, ${channels} channels`);
        const frames = Math.floor(Math.min(size, buffer.byteLength - body) / (2 * channels));
        const samples = new Float32Array(frames);
        for (let i = 0; i < frames; i++) samples[i] = v.getInt16(body + 2 * channels * i, true) / 32768;
        return { samples, rate };
      }
      at = body + size + (size & 1);
    }
    throw new Error("no data chunk");
  }

  // In-place iterative radix-2 FFT of (re, im), length a power of two.
  function fft(re, im) {
    const n = re.length;
    for (let i = 1, j = 0; i < n; i++) {
      let bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const step = -2 * Math.PI / len;
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(step * k), wi = Math.sin(step * k);
        for (let s = 0; s < n; s += len) {
          const a = s + k, b = a + len / 2;
          const xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr; im[b] = im[a] - xi;
          re[a] += xr; im[a] += xi;
        }
      }
    }
  }

  // Power in dB per (frame, bin): { frames, bins, db: Float32Array(frames * bins), maxDb }.
  function spectrogram(samples, rate) {
    const frameLen = Math.round(0.025 * rate), hop = Math.round(0.010 * rate);
    let nfft = 1;
    while (nfft < frameLen) nfft <<= 1;
    const bins = nfft / 2 + 1;
    const frames = samples.length < frameLen ? 0 : 1 + Math.floor((samples.length - frameLen) / hop);
    const window = new Float32Array(frameLen).map((_, i) => 0.5 - 0.5 * Math.cos(2 * Math.PI * i / (frameLen - 1)));
    const re = new Float64Array(nfft), im = new Float64Array(nfft), db = new Float32Array(frames * bins);
    let maxDb = -Infinity;
    for (let f = 0; f < frames; f++) {
      re.fill(0); im.fill(0);
      for (let i = 0; i < frameLen; i++) re[i] = samples[f * hop + i] * window[i];
      fft(re, im);
      for (let b = 0; b < bins; b++) {
        const d = 10 * Math.log10(re[b] * re[b] + im[b] * im[b] + 1e-12);
        db[f * bins + b] = d;
        if (d > maxDb) maxDb = d;
      }
    }
    return { frames, bins, db, maxDb };
  }

  // Dark (quiet) through red to pale yellow (loud).
  function colour(t) {
    const stops = [[12, 16, 32], [190, 50, 90], [255, 235, 120]];
    const x = Math.min(1, Math.max(0, t)) * 2, i = Math.min(1, Math.floor(x)), u = x - i;
    return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * u));
  }

  function drawWaveform(canvas, samples) {
    const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height, mid = h / 2;
    g.fillStyle = WaveBackground;
    g.fillRect(0, 0, w, h);
    g.fillStyle = AxisColour;
    g.fillRect(0, Math.floor(mid), w, 1);
    g.fillStyle = WaveColour;
    const per = samples.length / w;
    for (let x = 0; x < w; x++) {
      let lo = 0, hi = 0;
      for (let i = Math.floor(x * per), end = Math.min(samples.length, Math.floor((x + 1) * per)); i < end; i++) {
        if (samples[i] < lo) lo = samples[i];
        if (samples[i] > hi) hi = samples[i];
      }
      const top = Math.floor(mid - hi * mid), bottom = Math.ceil(mid - lo * mid);
      g.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
  }

  function drawSpectrogram(canvas, samples, rate) {
    const s = spectrogram(samples, rate);
    const g = canvas.getContext("2d");
    g.fillStyle = `rgb(${colour(0).join(",")})`;
    g.fillRect(0, 0, canvas.width, canvas.height);
    if (s.frames === 0) return;
    // One pixel per (frame, bin) off screen, bin 0 at the bottom, then scaled onto the canvas.
    const image = new ImageData(s.frames, s.bins);
    for (let f = 0; f < s.frames; f++) {
      for (let b = 0; b < s.bins; b++) {
        const [r, gr, bl] = colour((s.db[f * s.bins + b] - (s.maxDb - RangeDb)) / RangeDb);
        const p = 4 * ((s.bins - 1 - b) * s.frames + f);
        image.data[p] = r; image.data[p + 1] = gr; image.data[p + 2] = bl; image.data[p + 3] = 255;
      }
    }
    const off = document.createElement("canvas");
    off.width = s.frames;
    off.height = s.bins;
    off.getContext("2d").putImageData(image, 0, 0);
    g.drawImage(off, 0, 0, canvas.width, canvas.height);
  }

  function clear(canvas, text) {
    const g = canvas.getContext("2d");
    g.fillStyle = "#eef1f4";
    g.fillRect(0, 0, canvas.width, canvas.height);
    if (text) {
      g.fillStyle = "#5b6b7c";
      g.font = "14px system-ui, sans-serif";
      g.fillText(text, 12, canvas.height / 2 + 5);
    }
  }

  return { parseWav, spectrogram, drawWaveform, drawSpectrogram, clear };
})();
