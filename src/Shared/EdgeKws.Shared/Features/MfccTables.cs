namespace EdgeKws.Shared.Features;

/// <summary>
/// Builds the constant tables of the MFCC front end with <see cref="DeterministicMath"/>, following
/// <c>torchaudio.compliance.kaldi</c> (and so Kaldi) formula for formula. Runs once per extractor
/// (and in validation), never per frame, so allocating here is fine.
/// </summary>
internal static class MfccTables
{
    /// <summary>
    /// First half (ceil(length/2) values) of Kaldi's symmetric analysis window of <c>length</c>
    /// samples; the second half mirrors it, w[n] = w[length-1-n].
    /// </summary>
    public static double[] HalfWindow(MfccWindow kind, int length)
    {
        var w = new double[(length + 1) / 2];
        double denominator = length - 1;
        for (int n = 0; n < w.Length; n++)
        {
            double a = 2.0 * Math.PI * n / denominator;
            double hann = 0.5 - 0.5 * DeterministicMath.Cos(a);
            w[n] = kind switch
            {
                MfccWindow.Povey => DeterministicMath.Pow(Math.Max(hann, 0.0), 0.85),
                MfccWindow.Hamming => 0.54 - 0.46 * DeterministicMath.Cos(a),
                MfccWindow.Hann => hann,
                MfccWindow.Rectangular => 1.0,
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown window function"),
            };
        }

        return w;
    }

    private static double MelScale(double hz) => 1127.0 * DeterministicMath.Log(1.0 + hz / 700.0);

    /// <summary>Triangle weight of FFT bin <paramref name="k"/> in mel bin <paramref name="bin"/> (Kaldi's get_mel_banks).</summary>
    private static double MelWeight(MfccConfig c, int bin, int k, double melLow, double melDelta)
    {
        double left = melLow + bin * melDelta;
        double center = melLow + (bin + 1.0) * melDelta;
        double right = melLow + (bin + 2.0) * melDelta;
        double mel = MelScale((double)c.SampleRateHz / c.FftSize * k);
        double up = (mel - left) / (center - left);
        double down = (right - mel) / (right - center);
        return Math.Max(0.0, Math.Min(up, down));
    }

    /// <summary>
    /// Sparse mel filterbank over FFT bins [0, FftSize/2): bin b covers <c>count[b]</c> FFT bins from
    /// <c>start[b]</c>, weights packed one bin after another. Kaldi gives the Nyquist bin no weight.
    /// </summary>
    public static (ushort[] Start, ushort[] Count, float[] Weights) MelFilterbank(MfccConfig c)
    {
        int bins = c.MelBinCount;
        int fftBins = c.FftSize / 2;
        double melLow = MelScale(c.MelLowHz);
        double melDelta = (MelScale(c.MelHighHz) - melLow) / (bins + 1);
        var start = new ushort[bins];
        var count = new ushort[bins];
        int total = 0;
        for (int b = 0; b < bins; b++)
        {
            int first = -1, last = -1;
            for (int k = 0; k < fftBins; k++)
            {
                if (MelWeight(c, b, k, melLow, melDelta) > 0)
                {
                    if (first < 0)
                    {
                        first = k;
                    }

                    last = k;
                }
            }

            if (first < 0)
            {
                throw new ArgumentException($"MfccConfig.MelBinCount gives mel bin {b} no FFT bin.", nameof(c));
            }

            start[b] = (ushort)first;
            count[b] = (ushort)(last - first + 1);
            total += count[b];
        }

        var weights = new float[total];
        int at = 0;
        for (int b = 0; b < bins; b++)
        {
            for (int k = start[b]; k < start[b] + count[b]; k++)
            {
                weights[at++] = (float)MelWeight(c, b, k, melLow, melDelta);
            }
        }

        return (start, count, weights);
    }

    /// <summary>The first mel bin with no positive weight, or -1 when every bin sees some FFT bin.</summary>
    public static int FirstEmptyMelBin(MfccConfig c)
    {
        int bins = c.MelBinCount;
        double melLow = MelScale(c.MelLowHz);
        double melDelta = (MelScale(c.MelHighHz) - melLow) / (bins + 1);
        for (int b = 0; b < bins; b++)
        {
            bool any = false;
            for (int k = 0; k < c.FftSize / 2 && !any; k++)
            {
                any = MelWeight(c, b, k, melLow, melDelta) > 0;
            }

            if (!any)
            {
                return b;
            }
        }

        return -1;
    }

    /// <summary>
    /// Kaldi's DCT-II (orthonormal, C0 row = sqrt(1/bins)) folded by its symmetry
    /// d[i, bins-1-m] = (-1)^i d[i, m]: row-major [coefficient, m] for m &lt; ceil(bins/2). Halves the
    /// table and the multiplies.
    /// </summary>
    public static float[] HalfDct(int coefficients, int bins)
    {
        int half = (bins + 1) / 2;
        var dct = new float[coefficients * half];
        double norm = Math.Sqrt(2.0 / bins);
        double c0 = Math.Sqrt(1.0 / bins);
        for (int i = 0; i < coefficients; i++)
        {
            for (int m = 0; m < half; m++)
            {
                dct[i * half + m] = i == 0 ? (float)c0 : (float)(norm * DeterministicMath.Cos(Math.PI / bins * (m + 0.5) * i));
            }
        }

        return dct;
    }

    /// <summary>Kaldi's lifter 1 + L/2 sin(pi i / L); all ones when L is 0.</summary>
    public static float[] Lifter(int coefficients, double lifter)
    {
        var l = new float[coefficients];
        for (int i = 0; i < coefficients; i++)
        {
            l[i] = lifter == 0 ? 1f : (float)(1.0 + 0.5 * lifter * DeterministicMath.Sin(Math.PI * i / lifter));
        }

        return l;
    }
}
