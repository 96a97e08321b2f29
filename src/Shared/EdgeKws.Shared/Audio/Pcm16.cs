namespace EdgeKws.Shared.Audio;

/// <summary>
/// Conversions between the device's native S16 samples and the project's float samples, which are
/// normalised to [-1, 1) as int16 / 32768. Allocation-free: spans in, spans out.
/// </summary>
public static class Pcm16
{
    /// <summary>The scale between an int16 sample and its float value.</summary>
    public const float Scale = 32768f;

    /// <summary>Converts S16 samples to floats (value / 32768). <paramref name="destination"/> must be at least as long as <paramref name="source"/>.</summary>
    public static void ToFloat(ReadOnlySpan<short> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} samples but the source has {source.Length}.", nameof(destination));
        }

        const float inv = 1f / Scale;
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = source[i] * inv;
        }
    }

    /// <summary>
    /// Converts floats to S16: scales by 32768, rounds to nearest (ties to even) and saturates to
    /// [-32768, 32767] so over-range audio clips instead of wrapping. NaN becomes 0.
    /// </summary>
    public static void ToInt16(ReadOnlySpan<float> source, Span<short> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} samples but the source has {source.Length}.", nameof(destination));
        }

        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = ToInt16(source[i]);
        }
    }

    /// <summary>Converts one float sample to S16 with the same rounding and saturation as the span overload.</summary>
    public static short ToInt16(float sample)
    {
        float scaled = MathF.Round(sample * Scale);
        if (scaled >= short.MaxValue)
        {
            return short.MaxValue;
        }

        if (scaled <= short.MinValue)
        {
            return short.MinValue;
        }

        return float.IsNaN(scaled) ? (short)0 : (short)scaled;
    }
}
