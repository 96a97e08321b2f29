using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Features;

/// <summary>
/// Power spectrum of a real frame, in double precision (see MfccExtractor for why), of N (a power of two) samples: an N/2-point complex radix-2 FFT
/// on the even/odd samples packed as real/imaginary parts, then the standard split into the N/2+1
/// bins of the real transform. Tables: a quarter-wave sine table (N/4+1 doubles) from which every
/// twiddle is read by symmetry, and a bit-reversal table (N/2 ushorts). Allocates only in the
/// constructor; <see cref="PowerSpectrumInPlace"/> allocates nothing and uses a fixed operation order, so
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
    /// Replaces the real sequence in <paramref name="data"/> (length N) by its unnormalized power
    /// spectrum (as numpy/torch rfft), in place to save a buffer: |X[k]|^2 for k in [0, N/2) lands in
    /// <c>data[2k + 1]</c> (read it with <see cref="PowerIndex"/>) and the Nyquist bin |X[N/2]|^2 in
    /// <c>data[0]</c>. The other even slots are left as scratch.
    /// </summary>
    public void PowerSpectrumInPlace(Span<double> data)
    {
        int n = _n;
        int m = n / 2;
        if (data.Length != n)
        {
            throw new ArgumentException($"RealFft({n}) needs data of exactly {n} doubles; got {data.Length}.", nameof(data));
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
        // Bins k and M-k need the same two points, so each pair is read once and its slots reused.
        double z0r = data[0], z0i = data[1];
        data[1] = (z0r + z0i) * (z0r + z0i); // X[0]
        data[0] = (z0r - z0i) * (z0r - z0i); // X[M], Nyquist
        for (int k = 1; 2 * k <= m; k++)
        {
            int p = 2 * k, q = 2 * (m - k);
            double pr = data[p], pi = data[p + 1], qr = data[q], qi = data[q + 1];
            data[p + 1] = BinPower(k, pr, pi, qr, qi);
            if (q != p)
            {
                data[q + 1] = BinPower(m - k, qr, qi, pr, pi);
            }
        }
    }

    /// <summary>Index in the transformed buffer of |X[k]|^2, k in [0, N/2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PowerIndex(int k) => 2 * k + 1;

    /// <summary>|X[k]|^2 from Z[k] = (ar, ai) and Z[M-k] = (br, bi).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double BinPower(int k, double ar, double ai, double br, double bi)
    {
        bi = -bi; // conj Z[M-k]
        double feR = 0.5 * (ar + br), feI = 0.5 * (ai + bi);
        double foR = 0.5 * (ai - bi), foI = -0.5 * (ar - br);
        Twiddle(k, out double c, out double s);
        double xr = feR + (c * foR + s * foI);
        double xi = feI + (c * foI - s * foR);
        return xr * xr + xi * xi;
    }
}
