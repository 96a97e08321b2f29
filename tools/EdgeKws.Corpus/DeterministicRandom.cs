using System.Text;

namespace EdgeKws.Corpus;

/// <summary>
/// SplitMix64 pseudo-random generator. The corpus must be byte-identical for a seed on every .NET
/// version, so it does not use <see cref="Random"/>, whose algorithm the runtime may change.
/// Every decision draws from a generator derived from (seed, a name for the decision), so the order in
/// which items are planned, synthesised or rendered never changes what any one item gets.
/// </summary>
public sealed class DeterministicRandom
{
    private ulong _state;

    /// <summary>Starts a sequence from a raw 64-bit state.</summary>
    public DeterministicRandom(ulong state) => _state = state;

    /// <summary>A generator for one named decision under a corpus seed.</summary>
    public static DeterministicRandom For(long seed, string name) => new(Hash(seed, name));

    /// <summary>Stable 64-bit hash (FNV-1a over the seed and UTF-8 name, then a SplitMix64 finaliser).</summary>
    public static ulong Hash(long seed, string name)
    {
        ulong h = 14695981039346656037UL;
        for (int i = 0; i < 8; i++)
        {
            h = (h ^ (byte)((ulong)seed >> (8 * i))) * 1099511628211UL;
        }

        foreach (byte b in Encoding.UTF8.GetBytes(name))
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return Mix(h);
    }

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform double in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform double in [min, max).</summary>
    public double NextDouble(double min, double max) => min + ((max - min) * NextDouble());

    /// <summary>Uniform integer in [0, count).</summary>
    public int Next(int count)
    {
        if (count <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "Need at least one choice.");
        }

        return (int)(NextUInt64() % (ulong)count);
    }

    /// <summary>Uniform integer in [min, max).</summary>
    public int Next(int min, int max) => min + Next(max - min);

    /// <summary>One element of a non-empty list.</summary>
    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
