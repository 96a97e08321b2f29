using System.Numerics;
using EdgeKws.Shared.Features;
using MathNet.Numerics.IntegralTransforms;

namespace EdgeKws.Bench;

/// <summary>
/// COMPARISON BASELINE ONLY, never used by the product: the straightforward way to write the same
/// Kaldi MFCC in C#: MathNet.Numerics' complex FFT, a dense mel matrix, Math.* functions, and fresh
/// arrays for every frame. It reads the same <see cref="MfccConfig"/> and computes the same features
/// (checked with <c>--check-baseline</c>), so the benchmarks compare implementations, not maths.
/// </summary>
public sealed class MathNetBaselineMfcc
{
    private readonly MfccConfig _c;
    private readonly double[] _window;
    private readonly double[,] _mel;   // [bin, fftBin], dense
    private readonly double[,] _dct;   // [coefficient, bin]
    private readonly double[] _lifter;

    public MathNetBaselineMfcc(MfccConfig config)
    {
        config.Validate();
        _c = config;
        int w = config.WindowSamples, n = config.FftSize, b = config.MelBinCount, k = config.CoefficientCount;
        _window = new double[w];
        for (int i = 0; i < w; i++)
        {
            double a = 2 * Math.PI * i / (w - 1);
            double hann = 0.5 - 0.5 * Math.Cos(a);
            _window[i] = config.Window switch
            {
                MfccWindow.Povey => Math.Pow(hann, 0.85),
                MfccWindow.Hamming => 0.54 - 0.46 * Math.Cos(a),
                MfccWindow.Hann => hann,
                _ => 1.0,
            };
        }

        static double Mel(double hz) => 1127.0 * Math.Log(1 + hz / 700.0);
        double lo = Mel(config.MelLowHz), delta = (Mel(config.MelHighHz) - lo) / (b + 1);
        _mel = new double[b, n / 2 + 1];
        for (int bin = 0; bin < b; bin++)
        {
            for (int f = 0; f < n / 2; f++)
            {
                double m = Mel((double)config.SampleRateHz / n * f);
                double up = (m - (lo + bin * delta)) / delta, down = (lo + (bin + 2) * delta - m) / delta;
                _mel[bin, f] = Math.Max(0, Math.Min(up, down));
            }
        }

        _dct = new double[k, b];
        for (int i = 0; i < k; i++)
        {
            for (int m = 0; m < b; m++)
            {
                _dct[i, m] = i == 0 ? Math.Sqrt(1.0 / b) : Math.Sqrt(2.0 / b) * Math.Cos(Math.PI / b * (m + 0.5) * i);
            }
        }

        _lifter = new double[k];
        for (int i = 0; i < k; i++)
        {
            _lifter[i] = config.CepstralLifter == 0 ? 1 : 1 + 0.5 * config.CepstralLifter * Math.Sin(Math.PI * i / config.CepstralLifter);
        }
    }

    /// <summary>All frames of a signal (snip_edges), one new array per frame.</summary>
    public float[][] Compute(short[] signal)
    {
        int frames = _c.FrameCount(signal.Length);
        var result = new float[frames][];
        for (int t = 0; t < frames; t++)
        {
            var window = new short[_c.WindowSamples];
            Array.Copy(signal, t * _c.HopSamples, window, 0, window.Length);
            result[t] = ComputeFrame(window);
        }

        return result;
    }

    /// <summary>One frame of int16 samples.</summary>
    public float[] ComputeFrame(short[] samples)
    {
        int w = _c.WindowSamples, n = _c.FftSize, b = _c.MelBinCount, k = _c.CoefficientCount;
        double scale = _c.ReferenceLevel / 32768.0;
        double[] x = samples.Select(s => s * scale).ToArray();
        if (_c.RemoveDcOffset)
        {
            double mean = x.Average();
            x = x.Select(v => v - mean).ToArray();
        }

        double logEnergy = Math.Max(Math.Log(Math.Max(x.Sum(v => v * v), 1.1920928955078125e-07)),
            _c.EnergyFloor > 0 ? Math.Log(_c.EnergyFloor) : double.NegativeInfinity);
        var emphasized = new double[w];
        for (int i = 0; i < w; i++)
        {
            emphasized[i] = x[i] - _c.PreemphasisCoefficient * x[Math.Max(i - 1, 0)];
        }

        var spectrum = new Complex[n];
        for (int i = 0; i < w; i++)
        {
            spectrum[i] = new Complex(emphasized[i] * _window[i], 0);
        }

        Fourier.Forward(spectrum, FourierOptions.Matlab); // unnormalized, like numpy/torch
        double[] power = spectrum.Take(n / 2 + 1).Select(z => z.Real * z.Real + z.Imaginary * z.Imaginary).ToArray();

        var logMel = new double[b];
        for (int bin = 0; bin < b; bin++)
        {
            double e = 0;
            for (int f = 0; f <= n / 2; f++)
            {
                e += _mel[bin, f] * power[f];
            }

            logMel[bin] = Math.Log(Math.Max(e, _c.LogFloor));
        }

        var c = new float[k];
        for (int i = 0; i < k; i++)
        {
            double acc = 0;
            for (int m = 0; m < b; m++)
            {
                acc += _dct[i, m] * logMel[m];
            }

            c[i] = (float)(acc * _lifter[i]);
        }

        if (_c.UseEnergy)
        {
            c[0] = (float)logEnergy;
        }

        return c;
    }
}
