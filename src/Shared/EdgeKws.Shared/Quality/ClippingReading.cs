namespace EdgeKws.Shared.Quality;

/// <summary>Clipping figures of everything a <see cref="ClippingDetector"/> has seen.</summary>
/// <param name="SampleCount">Samples examined.</param>
/// <param name="ClippedSampleCount">Samples with |x| at or above <paramref name="ClipLevel"/>.</param>
/// <param name="ClippedRunCount">Runs of consecutive same-sign clipped samples at least <paramref name="MinRunSamples"/> long.</param>
/// <param name="LongestRunSamples">Longest run of consecutive same-sign clipped samples (any length).</param>
/// <param name="ClipLevel">|x| threshold used.</param>
/// <param name="MinRunSamples">Run length that counts as a clipped run.</param>
public readonly record struct ClippingReading(
    long SampleCount,
    long ClippedSampleCount,
    int ClippedRunCount,
    int LongestRunSamples,
    float ClipLevel,
    int MinRunSamples)
{
    /// <summary>Share of samples at or above the clip level, 0..1 (0 when nothing was pushed).</summary>
    public double ClippedRatio => SampleCount == 0 ? 0.0 : (double)ClippedSampleCount / SampleCount;

    /// <summary>
    /// The default rule to reject a take: clipped ratio above
    /// <see cref="QualityThresholds.MaxClippedSampleRatio"/> (0.1 %) or at least one clipped run
    /// (<see cref="MinRunSamples"/>, default 3, consecutive same-sign samples at the clip level).
    /// A single full-scale sample is a peak, not clipping.
    /// </summary>
    public bool ShowsClipping => ClippedRatio > QualityThresholds.MaxClippedSampleRatio || ClippedRunCount > 0;
}
