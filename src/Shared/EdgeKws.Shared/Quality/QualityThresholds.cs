namespace EdgeKws.Shared.Quality;

/// <summary>
/// The quality numbers the project seed fixes, named once so the enrollment policy, the device
/// agent and the docs quote the same figures. The quality types themselves report plain figures;
/// deciding pass/fail is the caller's policy.
/// </summary>
public static class QualityThresholds
{
    /// <summary>Sample rate every quality type assumes unless told otherwise (16 kHz mono).</summary>
    public const int DefaultSampleRateHz = 16_000;

    /// <summary>An enrollment take needs an estimated SNR above this (dB).</summary>
    public const double MinEnrollmentSnrDb = 20.0;

    /// <summary>Shortest acceptable wake word (main speech segment), in milliseconds.</summary>
    public const int MinWakeWordMs = 500;

    /// <summary>Longest acceptable wake word (main speech segment), in milliseconds.</summary>
    public const int MaxWakeWordMs = 800;

    /// <summary>
    /// Default clipping level: |x| &gt;= 32767/32768, i.e. the largest positive int16 code, so both
    /// +32767 and -32768 count as clipped.
    /// </summary>
    public const float DefaultClipLevel = 32767f / 32768f;

    /// <summary>Default rule: a take shows clipping when more than this share of samples (0.1 %) is clipped...</summary>
    public const double MaxClippedSampleRatio = 0.001;

    /// <summary>...or when any run of consecutive same-sign clipped samples is at least this long (a lone full-scale peak is not clipping).</summary>
    public const int MinClippedRunSamples = 3;
}
