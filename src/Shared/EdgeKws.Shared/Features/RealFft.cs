using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeKws.Shared.Features;

/// <summary>
/// Power spectrum of a real frame, in double precision (see MfccExtractor for why), of N (a power of two) samples: an N/2-point complex radix-2 FFT
/// on the even/odd samples packed as real/imaginary parts, then the standard split into the N/2+1
/// bins of the real transform. Tables: a quarter-wave sine table (N/4+1 doubles) from which every
/// twiddle is read by symmetry, and a bit-reversal table (the swapped index pairs, under N/2 ushorts). Allocates only in the
/// constructor; <see cref="PowerSpectrumInPlace"/> allocates nothing and uses a fixed operation order, so
/// its output bits are the same on every run and platform.
/// </summary>
internal sealed class RealFft
{
    private readonly int _n;
    private readonly int _quarter;
    private readonly double[] _sine;     // sin(2 pi k / N), k = 0..N/4
    private readonly ushort[] _swaps;    // bit-reversal permutation as (i, j) pairs with i < j

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

        // Only the pairs that move are stored, so the permutation runs without data-dependent branches.
        var swaps = new List<ushort>(m);
        for (int i = 0; i < m; i++)
        {
            int r = 0;
            for (int b = 0; b < bits; b++)
            {
                r |= ((i >> b) & 1) << (bits - 1 - b);
            }

            if (r > i)
            {
                swaps.Add((ushort)i);
                swaps.Add((ushort)r);
            }
        }

        _swaps = swaps.ToArray();
    }

    /// <summary>
    /// Bytes held by the tables: sine (N/4+1 doubles) and the bit-reversal swap pairs
    /// (N/2 - 2^ceil(b/2) ushorts for b = log2(N/2): every index except the bit palindromes).
    /// </summary>
    public int StateBytes => _sine.Length * sizeof(double) + _swaps.Length * sizeof(ushort);

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

        // Element access through a ref skips the bounds checks of the hot loops; every index stays
        // inside [0, n) by construction of the loops below (data.Length == n was checked above).
        ref double d = ref MemoryMarshal.GetReference(data);

        // Bit-reversal permutation of the complex points z[i] = data[2i] + i data[2i+1].
        ReadOnlySpan<ushort> swaps = _swaps;
        for (int s = 0; s + 1 < swaps.Length; s += 2)
        {
            nuint a = (nuint)(2 * swaps[s]), b = (nuint)(2 * swaps[s + 1]);
            Vector128<double> za = Vector128.LoadUnsafe(ref d, a);
            Vector128.LoadUnsafe(ref d, b).StoreUnsafe(ref d, a);
            za.StoreUnsafe(ref d, b);
        }

        // Stages of size 2 and 4 together: their twiddles are 1 and -i, so no multiplies.
        if (m >= 4)
        {
            for (int a = 0; a < n; a += 8)
            {
                ref double z = ref Unsafe.Add(ref d, a);
                double z0r = z, z0i = Unsafe.Add(ref z, 1), z1r = Unsafe.Add(ref z, 2), z1i = Unsafe.Add(ref z, 3);
                double z2r = Unsafe.Add(ref z, 4), z2i = Unsafe.Add(ref z, 5), z3r = Unsafe.Add(ref z, 6), z3i = Unsafe.Add(ref z, 7);
                double s0r = z0r + z1r, s0i = z0i + z1i, s1r = z0r - z1r, s1i = z0i - z1i;
                double s2r = z2r + z3r, s2i = z2i + z3i, s3r = z2r - z3r, s3i = z2i - z3i;
                z = s0r + s2r;
                Unsafe.Add(ref z, 1) = s0i + s2i;
                Unsafe.Add(ref z, 4) = s0r - s2r;
                Unsafe.Add(ref z, 5) = s0i - s2i;
                // (-i) * s3 = (s3i, -s3r)
                Unsafe.Add(ref z, 2) = s1r + s3i;
                Unsafe.Add(ref z, 3) = s1i - s3r;
                Unsafe.Add(ref z, 6) = s1r - s3i;
                Unsafe.Add(ref z, 7) = s1i + s3r;
            }
        }
        else
        {
            for (int a = 0; a < n; a += 4)
            {
                ref double z = ref Unsafe.Add(ref d, a);
                double ar = z, ai = Unsafe.Add(ref z, 1), br = Unsafe.Add(ref z, 2), bi = Unsafe.Add(ref z, 3);
                z = ar + br;
                Unsafe.Add(ref z, 1) = ai + bi;
                Unsafe.Add(ref z, 2) = ar - br;
                Unsafe.Add(ref z, 3) = ai - bi;
            }
        }

        // Remaining radix-2 decimation-in-time stages; W = cos - i sin. Two consecutive stages
        // (sizes s and 2s) are done together on the four points they share, which halves the loads
        // and stores but keeps every operation of the plain radix-2 stages. One complex number per
        // Vector128<double> (same width on x64 and arm64, separate multiply and add, no FMA), so each
        // lane does exactly the scalar operations: t = (wr br + s bi, wr bi - s br), s = sin.
        int size = 8;
        for (; 2 * size <= m; size *= 4)
        {
            int quarterSize = size / 2; // s/2, in complex points
            int step1 = n / size, step2 = n / (2 * size);
            for (int j = 0; j < quarterSize; j++)
            {
                Twiddle(j * step1, out double c1, out double s1);
                Twiddle(j * step2, out double c2, out double s2);
                Twiddle((j + quarterSize) * step2, out double c3, out double s3);
                Vector128<double> r1 = Vector128.Create(c1, c1), i1 = Vector128.Create(s1, -s1);
                Vector128<double> r2 = Vector128.Create(c2, c2), i2 = Vector128.Create(s2, -s2);
                Vector128<double> r3 = Vector128.Create(c3, c3), i3 = Vector128.Create(s3, -s3);
                for (int start = 2 * j; start < n; start += 4 * size)
                {
                    nuint o0 = (nuint)start, o1 = o0 + (nuint)size, o2 = o0 + (nuint)(2 * size), o3 = o2 + (nuint)size;
                    Vector128<double> z0 = Vector128.LoadUnsafe(ref d, o0);
                    Vector128<double> z1 = Vector128.LoadUnsafe(ref d, o1);
                    Vector128<double> z2 = Vector128.LoadUnsafe(ref d, o2);
                    Vector128<double> z3 = Vector128.LoadUnsafe(ref d, o3);
                    Vector128<double> t = Rotate(z1, r1, i1);
                    Vector128<double> a0 = z0 + t, a1 = z0 - t;
                    t = Rotate(z3, r1, i1);
                    Vector128<double> a2 = z2 + t, a3 = z2 - t;
                    t = Rotate(a2, r2, i2);
                    (a0 + t).StoreUnsafe(ref d, o0);
                    (a0 - t).StoreUnsafe(ref d, o2);
                    t = Rotate(a3, r3, i3);
                    (a1 + t).StoreUnsafe(ref d, o1);
                    (a1 - t).StoreUnsafe(ref d, o3);
                }
            }
        }

        if (size <= m)
        {
            // One stage left over when log2(N/2) is odd.
            int half = size >> 1;
            int step = n / size;
            for (int j = 0; j < half; j++)
            {
                Twiddle(j * step, out double wr, out double ws);
                Vector128<double> vr = Vector128.Create(wr, wr), vs = Vector128.Create(ws, -ws);
                for (int start = 2 * j; start < n; start += 2 * size)
                {
                    Vector128<double> va = Vector128.LoadUnsafe(ref d, (nuint)start);
                    Vector128<double> t = Rotate(Vector128.LoadUnsafe(ref d, (nuint)(start + size)), vr, vs);
                    (va - t).StoreUnsafe(ref d, (nuint)(start + size));
                    (va + t).StoreUnsafe(ref d, (nuint)start);
                }
            }
        }

        // Split: X[k] = Fe[k] + W_N^k Fo[k], Fe = (Z[k] + conj Z[M-k]) / 2, Fo = (Z[k] - conj Z[M-k]) / 2i.
        // Bins k and M-k need the same two points, so each pair is read once and its slots reused.
        double dcR = d, dcI = Unsafe.Add(ref d, 1);
        Unsafe.Add(ref d, 1) = (dcR + dcI) * (dcR + dcI); // X[0]
        d = (dcR - dcI) * (dcR - dcI);                     // X[M], Nyquist
        for (int k = 1; 2 * k <= m; k++)
        {
            ref double p = ref Unsafe.Add(ref d, 2 * k);
            ref double q = ref Unsafe.Add(ref d, 2 * (m - k));
            double pr = p, pi = Unsafe.Add(ref p, 1), qr = q, qi = Unsafe.Add(ref q, 1);
            Unsafe.Add(ref p, 1) = BinPower(k, pr, pi, qr, qi);
            if (2 * k != m)
            {
                Unsafe.Add(ref q, 1) = BinPower(m - k, qr, qi, pr, pi);
            }
        }
    }

    /// <summary>Complex product W z with W = (c, -s) given as (c, c) and (s, -s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> Rotate(Vector128<double> z, Vector128<double> cc, Vector128<double> sNegS)
        => (cc * z) + (sNegS * Vector128.Shuffle(z, Vector128.Create(1L, 0L)));

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
