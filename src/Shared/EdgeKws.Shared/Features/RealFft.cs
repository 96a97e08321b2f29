using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Features;

/// <summary>
/// Power spectrum of a real frame, in double precision (see MfccExtractor for why), of N (a power of two) samples: an N/2-point complex radix-2 FFT
/// on the even/odd samples packed as real/imaginary parts, then the standard split into the N/2+1
/// bins of the real transform. Tables: a quarter-wave sine table (N/4+1 doubles) from which every
/// twiddle is read by symmetry, and a bit-reversal table (N/2 ushorts). Allocates only in the
/// constructor; <see cref="PowerSpectrum"/> allocates nothing and uses a fixed operation order, so
/// its output bits are the same on every run and platform.
/// </summary>
internal sealed class RealFft
{
    private readonly int _n;
    private readonly int _quarter;
    private readonly double[] _sine;     // sin(2 pi k / N), k = 0..N/4
    private readonly ushort[] _bitReverse; // permutation of the N/2 complex points

    public RealFft(int n)
    {
        if (n < 4 || n > 65536 || (n & (n - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "FFT size must be a power of two between 4 and 65536.");
        }

        _n = n;
        _quarter = n / 4;
        _sine = new double[_quarter + 1];
        for (int k = 0; k <= _quarter; k++)
        {
            _sine[k] = k == 0 ? 0.0 : k == _quarter ? 1.0 : DeterministicMath.Sin(2.0 * Math.PI * k / n);
        }

        int m = n / 2;
        int bits = 0;
        while ((1 << bits) < m)
        {
            bits++;
        }

        _bitReverse = new ushort[m];
        for (int i = 0; i < m; i++)
        {
            int r = 0;
            for (int b = 0; b < bits; b++)
            {
                r |= ((i >> b) & 1) << (bits - 1 - b);
            }

            _bitReverse[i] = (ushort)r;
        }
    }

    /// <summary>Bytes held by the tables: sine (N/4+1 doubles) and bit reversal (N/2 ushorts).</summary>
    public int StateBytes => _sine.Length * sizeof(double) + _bitReverse.Length * sizeof(ushort);

    /// <summary>cos and sin of 2 pi t / N for t in [0, N/2], read from the quarter table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Twiddle(int t, out double cos, out double sin)
    {
        if (t <= _quarter)
        {
            cos = _sine[_quarter - t];
            sin = _sine[t];
        }
        else
        {
            cos = -_sine[t - _quarter];
            sin = _sine[2 * _quarter - t];
        }
    }

    /// <summary>
    /// Writes |X[k]|^2 for k = 0..N/2 of the real sequence in <paramref name="data"/> (length N,
    /// overwritten as scratch) into <paramref name="power"/> (length at least N/2+1). Unnormalized,
    /// as numpy/torch rfft.
    /// </summary>
    public void PowerSpectrum(Span<double> data, Span<float> power)
    {
        int n = _n;
        int m = n / 2;
        if (data.Length != n || power.Length < m + 1)
        {
            throw new ArgumentException($"RealFft({n}) needs data of {n} doubles and power of at least {m + 1}.");
        }

        // Bit-reversal permutation of the complex points z[i] = data[2i] + i data[2i+1].
        ushort[] rev = _bitReverse;
        for (int i = 0; i < m; i++)
        {
            int j = rev[i];
            if (j > i)
            {
                int a = 2 * i, b = 2 * j;
                (data[a], data[b]) = (data[b], data[a]);
                (data[a + 1], data[b + 1]) = (data[b + 1], data[a + 1]);
            }
        }

        // First stage (size 2): twiddle 1.
        for (int a = 0; a < n; a += 4)
        {
            double ar = data[a], ai = data[a + 1], br = data[a + 2], bi = data[a + 3];
            data[a] = ar + br;
            data[a + 1] = ai + bi;
            data[a + 2] = ar - br;
            data[a + 3] = ai - bi;
        }

        // Remaining radix-2 decimation-in-time stages; W = cos - i sin.
        for (int size = 4; size <= m; size <<= 1)
        {
            int half = size >> 1;
            int step = n / size;
            for (int j = 0; j < half; j++)
            {
                Twiddle(j * step, out double wr, out double wi);
                wi = -wi;
                for (int start = 0; start < m; start += size)
                {
                    int a = 2 * (start + j);
                    int b = a + size; // 2 * half
                    double br = data[b], bi = data[b + 1];
                    double tr = wr * br - wi * bi;
                    double ti = wr * bi + wi * br;
                    double ar = data[a], ai = data[a + 1];
                    data[b] = ar - tr;
                    data[b + 1] = ai - ti;
                    data[a] = ar + tr;
                    data[a + 1] = ai + ti;
                }
            }
        }

        // Split: X[k] = Fe[k] + W_N^k Fo[k], Fe = (Z[k] + conj Z[M-k]) / 2, Fo = (Z[k] - conj Z[M-k]) / 2i.
        for (int k = 0; k <= m; k++)
        {
            int p = k == m ? 0 : 2 * k;
            int q = k == 0 ? 0 : 2 * (m - k);
            double ar = data[p], ai = data[p + 1];
            double br = data[q], bi = -data[q + 1];
            double feR = 0.5 * (ar + br), feI = 0.5 * (ai + bi);
            double foR = 0.5 * (ai - bi), foI = -0.5 * (ar - br);
            Twiddle(k, out double c, out double s);
            double xr = feR + (c * foR + s * foI);
            double xi = feI + (c * foI - s * foR);
            power[k] = (float)(xr * xr + xi * xi);
        }
    }
}
