namespace EdgeKws.Acoustics;

/// <summary>
/// In-place iterative radix-2 complex FFT (decimation in time) on separate real and imaginary double
/// arrays of a power-of-two length N. Tables (N/2 twiddles, N bit-reversed indices) are built in the
/// constructor; <see cref="Transform"/> allocates nothing.
/// </summary>
internal sealed class ComplexFft
{
    private readonly int _n;
    private readonly double[] _cos;      // cos(2 pi k / N), k < N/2
    private readonly double[] _sin;      // sin(2 pi k / N), k < N/2
    private readonly int[] _reversed;    // bit-reversed index of each index

    public ComplexFft(int n)
    {
        if (n < 2 || (n & (n - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "FFT size must be a power of two of at least 2.");
        }

        _n = n;
        _cos = new double[n / 2];
        _sin = new double[n / 2];
        for (int k = 0; k < n / 2; k++)
        {
            double angle = 2.0 * Math.PI * k / n;
            _cos[k] = Math.Cos(angle);
            _sin[k] = Math.Sin(angle);
        }

        int bits = System.Numerics.BitOperations.Log2((uint)n);
        _reversed = new int[n];
        for (int i = 0; i < n; i++)
        {
            _reversed[i] = (int)(ReverseBits((uint)i) >> (32 - bits));
        }
    }

    public int Size => _n;

    /// <summary>
    /// Forward transform X[k] = sum x[n] e^(-2 pi i k n / N), or with <paramref name="inverse"/> the inverse
    /// including the 1/N factor.
    /// </summary>
    public void Transform(Span<double> re, Span<double> im, bool inverse)
    {
        if (re.Length != _n || im.Length != _n)
        {
            throw new ArgumentException($"Both arrays must hold exactly {_n} values.");
        }

        for (int i = 0; i < _n; i++)
        {
            int j = _reversed[i];
            if (j > i)
            {
                (re[i], re[j]) = (re[j], re[i]);
                (im[i], im[j]) = (im[j], im[i]);
            }
        }

        double sign = inverse ? 1.0 : -1.0;
        for (int size = 2; size <= _n; size <<= 1)
        {
            int half = size >> 1;
            int stride = _n / size;
            for (int start = 0; start < _n; start += size)
            {
                for (int k = 0; k < half; k++)
                {
                    double wr = _cos[k * stride];
                    double wi = sign * _sin[k * stride];
                    int a = start + k, b = a + half;
                    double tr = re[b] * wr - im[b] * wi;
                    double ti = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
        }

        if (inverse)
        {
            double scale = 1.0 / _n;
            for (int i = 0; i < _n; i++)
            {
                re[i] *= scale;
                im[i] *= scale;
            }
        }
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }
}
