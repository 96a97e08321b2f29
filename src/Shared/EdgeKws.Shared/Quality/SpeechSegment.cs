namespace EdgeKws.Shared.Quality;

/// <summary>A stretch of speech found by <see cref="EnergyVad"/>, in samples from the first sample pushed.</summary>
/// <param name="StartSample">First sample of the first speech frame.</param>
/// <param name="EndSample">One past the last sample of the last speech frame (exclusive).</param>
/// <param name="SampleRateHz">Sample rate, for the millisecond figures.</param>
public readonly record struct SpeechSegment(long StartSample, long EndSample, int SampleRateHz)
{
    /// <summary>Length in samples.</summary>
    public long DurationSamples => EndSample - StartSample;

    /// <summary>Start time in milliseconds.</summary>
    public double StartMs => StartSample * 1000.0 / SampleRateHz;

    /// <summary>End time (exclusive) in milliseconds.</summary>
    public double EndMs => EndSample * 1000.0 / SampleRateHz;

    /// <summary>Length in milliseconds.</summary>
    public double DurationMs => DurationSamples * 1000.0 / SampleRateHz;
}
