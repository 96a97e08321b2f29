namespace EdgeKws.Acoustics;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014; Vigna's reference constants): a tiny, fast generator whose
/// output depends only on the seed, so every simulated room and colouring is reproducible on any runtime
/// (System.Random's algorithm is not a documented contract). A mutable struct: pass it by ref.
/// The goal of this struct is to avoid any heap allocation.
/// </summary>
internal struct SplitMix64
{
    private const ulong Gamma = 0x9E3779B97F4A7C15UL;
    private ulong _state;
    private double _spareGaussian;
    private bool _hasSpare;

    public SplitMix64(ulong seed)
    {
        _state = seed;
        _spareGaussian = 0;
        _hasSpare = false;
    }

    /// <summary>The SplitMix64 output function: a bijective 64-bit mix.</summary>
    public static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// A seed for sub-stream <paramref name="stream"/> of <paramref name="seed"/>. Mixing both through the
    /// finaliser (rather than seed + stream * gamma) keeps neighbouring streams from being shifted copies
    /// of one sequence.
    /// </summary>
    public static ulong Derive(ulong seed, ulong stream) => Finalize(seed ^ Finalize(stream + Gamma));

    public ulong NextUInt64()
    {
        _state += Gamma;
        return Finalize(_state);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [min, max).</summary>
    public double NextDouble(double min, double max) => min + (max - min) * NextDouble();

    /// <summary>Standard normal by the Box-Muller transform; the second value of each pair is kept for the next call.</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareGaussian;
        }

        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        double angle = 2.0 * Math.PI * u2;
        _spareGaussian = radius * Math.Sin(angle);
        _hasSpare = true;
        return radius * Math.Cos(angle);
    }
}
