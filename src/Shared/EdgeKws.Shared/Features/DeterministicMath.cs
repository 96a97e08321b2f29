namespace EdgeKws.Shared.Features;

/// <summary>
/// Transcendental functions built only from IEEE-754 +, -, *, / and exact bit manipulation, so they
/// return the same bits on every CPU and runtime. <see cref="Math.Log(double)"/> and friends call the
/// platform's C library, whose last-ulp results differ between glibc x64, glibc arm64 and musl; the
/// device (arm64) and the gateway (x64) must produce identical features, so the MFCC tables and the
/// per-frame logarithm use these instead. Accuracy is a few ulp (relative error below 1e-15), far
/// tighter than the float32 feature path needs. No allocation, no state.
/// </summary>
internal static class DeterministicMath
{
    // fdlibm's split of ln 2: Ln2Hi has trailing zero bits, so e * Ln2Hi is exact for |e| < 2048.
    private const double Ln2Hi = 6.93147180369123816490e-01;
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double InvLn2 = 1.44269504088896338700e+00;
    // fdlibm's split of pi/2 (33 leading bits + tail) for Cody-Waite reduction of moderate arguments.
    private const double PiO2Hi = 1.57079632673412561417e+00;
    private const double PiO2Lo = 6.07710050650619224932e-11;
    private const double TwoOverPi = 6.36619772367581382433e-01;
    private const double Sqrt2 = 1.41421356237309504880;

    /// <summary>Natural logarithm of a positive finite <paramref name="x"/>.</summary>
    public static double Log(double x)
    {
        if (!(x > 0) || double.IsInfinity(x))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "DeterministicMath.Log needs a positive finite argument.");
        }

        int exponentBias = 0;
        if (x < 2.2250738585072014E-308)
        {
            // Subnormal: scale into the normal range first (exact).
            x *= 18014398509481984.0; // 2^54
            exponentBias = -54;
        }

        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF) - 1023 + exponentBias;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > Sqrt2)
        {
            m *= 0.5;
            e++;
        }

        // log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: the odd series converges fast.
        double s = (m - 1.0) / (m + 1.0);
        double z = s * s;
        double p = 1.0 / 25.0;
        p = p * z + 1.0 / 23.0;
        p = p * z + 1.0 / 21.0;
        p = p * z + 1.0 / 19.0;
        p = p * z + 1.0 / 17.0;
        p = p * z + 1.0 / 15.0;
        p = p * z + 1.0 / 13.0;
        p = p * z + 1.0 / 11.0;
        p = p * z + 1.0 / 9.0;
        p = p * z + 1.0 / 7.0;
        p = p * z + 1.0 / 5.0;
        p = p * z + 1.0 / 3.0;
        double logM = 2.0 * s + 2.0 * s * z * p;
        return e * Ln2Hi + (e * Ln2Lo + logM);
    }

    /// <summary>e raised to <paramref name="x"/>, for |x| &lt; 700.</summary>
    public static double Exp(double x)
    {
        if (!(Math.Abs(x) < 700.0))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "DeterministicMath.Exp supports |x| < 700.");
        }

        double k = Math.Round(x * InvLn2, MidpointRounding.ToEven);
        double r = (x - k * Ln2Hi) - k * Ln2Lo; // |r| <= 0.35
        // Taylor series to r^20/20!: the truncation error is below 1e-27.
        double p = 1.0;
        for (int n = 20; n >= 1; n--)
        {
            p = 1.0 + p * r / n;
        }

        return Math.ScaleB(p, (int)k);
    }

    /// <summary><paramref name="x"/> raised to <paramref name="y"/> for x &gt;= 0 and y &gt; 0.</summary>
    public static double Pow(double x, double y)
    {
        if (x < 0 || !(y > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "DeterministicMath.Pow supports x >= 0 and y > 0.");
        }

        return x == 0 ? 0.0 : Exp(y * Log(x));
    }

    /// <summary>Sine of <paramref name="x"/> radians, for |x| &lt; 1e5.</summary>
    public static double Sin(double x) => SinCos(x, cosine: false);

    /// <summary>Cosine of <paramref name="x"/> radians, for |x| &lt; 1e5.</summary>
    public static double Cos(double x) => SinCos(x, cosine: true);

    private static double SinCos(double x, bool cosine)
    {
        if (!(Math.Abs(x) < 1e5))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "DeterministicMath.Sin/Cos support |x| < 1e5.");
        }

        double k = Math.Round(x * TwoOverPi, MidpointRounding.ToEven);
        double r = (x - k * PiO2Hi) - k * PiO2Lo; // |r| <= pi/4 (+ a hair)
        int quadrant = (int)((long)k & 3);
        if (cosine)
        {
            quadrant = (quadrant + 1) & 3; // cos(x) = sin(x + pi/2)
        }

        return quadrant switch
        {
            0 => SinKernel(r),
            1 => CosKernel(r),
            2 => -SinKernel(r),
            _ => -CosKernel(r),
        };
    }

    private static double SinKernel(double r)
    {
        // r - r^3/3! + ... - r^23/23!; truncation below 1e-25 for |r| <= pi/4.
        double z = r * r;
        double p = 1.0;
        for (int n = 23; n >= 3; n -= 2)
        {
            p = 1.0 - p * z / (n * (n - 1));
        }

        return r * p;
    }

    private static double CosKernel(double r)
    {
        double z = r * r;
        double p = 1.0;
        for (int n = 22; n >= 2; n -= 2)
        {
            p = 1.0 - p * z / (n * (n - 1));
        }

        return p;
    }
}
