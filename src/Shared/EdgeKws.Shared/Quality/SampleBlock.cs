using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Quality;

/// <summary>Shared argument checks and the frame-size arithmetic of the quality types.</summary>
internal static class SampleBlock
{
    /// <summary>Rejects NaN/infinite samples before any state changes, so a bad block never half-updates a meter.</summary>
    public static void ThrowIfNotFinite(ReadOnlySpan<float> block, [CallerArgumentExpression(nameof(block))] string? paramName = null)
    {
        for (int i = 0; i < block.Length; i++)
        {
            if (!float.IsFinite(block[i]))
            {
                ThrowNotFinite(block[i], i, paramName);
            }
        }
    }

    /// <summary>Samples in <paramref name="durationMs"/> at <paramref name="sampleRateHz"/>; must be a whole, positive number.</summary>
    public static int SamplesFor(int sampleRateHz, int durationMs, string what)
    {
        if (sampleRateHz <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRateHz), sampleRateHz, "Sample rate must be positive (Hz).");
        }

        if (durationMs <= 0)
        {
            throw new ArgumentOutOfRangeException(what, durationMs, $"{what} must be a positive number of milliseconds.");
        }

        long product = (long)sampleRateHz * durationMs;
        if (product % 1000 != 0 || product / 1000 > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(what, durationMs,
                $"{what} = {durationMs} ms is not a whole number of samples at {sampleRateHz} Hz.");
        }

        return (int)(product / 1000);
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowNotFinite(float value, int index, string? paramName) =>
        throw new ArgumentException(
            $"Sample {index} of the block is {value}; samples must be finite floats normalized to [-1, 1).", paramName);
}

/// <summary>
/// Sum of squares and peak over consecutive fixed-length frames, fed by blocks of any size.
/// </summary>
/// <remarks>
/// Squares are added one sample at a time, in order, into one double: the result is therefore
/// bit-identical whatever block sizes the stream was cut into. A plain struct held inside its
/// owner's state: no heap allocation, ever.
/// </remarks>
internal struct FramedSquares
{
    private readonly int _frameLength;
    private int _filled;
    private double _sumSquares;
    private float _peak;

    public FramedSquares(int frameLength)
    {
        _frameLength = frameLength;
    }

    public readonly int FrameLength => _frameLength;

    /// <summary>Mean square of the frame just completed (valid when <see cref="Consume"/> reported completion).</summary>
    public readonly double MeanSquare => _sumSquares / _frameLength;

    /// <summary>Largest |x| of the frame just completed.</summary>
    public readonly float Peak => _peak;

    /// <summary>Takes samples up to the end of the current frame; returns how many were taken.</summary>
    public int Consume(ReadOnlySpan<float> block, out bool frameComplete)
    {
        int take = Math.Min(block.Length, _frameLength - _filled);
        double sum = _sumSquares;
        float peak = _peak;
        for (int i = 0; i < take; i++)
        {
            float x = block[i];
            sum += (double)x * x;
            float a = Math.Abs(x);
            if (a > peak)
            {
                peak = a;
            }
        }

        _sumSquares = sum;
        _peak = peak;
        _filled += take;
        frameComplete = _filled == _frameLength;
        return take;
    }

    /// <summary>Starts the next frame.</summary>
    public void Clear()
    {
        _filled = 0;
        _sumSquares = 0;
        _peak = 0;
    }
}
