using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// Pass/fail thresholds and sizes of one enrollment. Defaults are the project seed's numbers
/// (<see cref="QualityThresholds"/>) plus the consistency threshold measured in docs/enrollment.md.
/// A phrase configuration (<see cref="PhraseConfig"/>) may change the phrase label and its
/// duration bounds.
/// </summary>
public sealed record EnrollmentPolicy
{
    /// <summary>
    /// Default DTW consistency threshold (mean per-step distance of CMN'd C1-C12, see
    /// <see cref="DtwDistance"/>). Measured on generated takes (docs/enrollment.md,
    /// tools/EdgeKws.Enroll/testdata/make_takes.py): the same phrase from the same espeak voice at
    /// other rates, pitches, noise colours and SNRs reads 14.7-24.8 against five accepted takes; other
    /// phrases of similar length from the same voice read 35.5 ("play edge") to 87.2. 30 sits
    /// between, nearer the same-phrase side's upper end plus margin for a real voice's variation.
    /// </summary>
    public const double DefaultMaxDtwDistance = 30.0;

    /// <summary>Shortest phrase bound accepted in a configuration.</summary>
    public const int MinConfigurableSpeechMs = 100;

    /// <summary>Longest phrase bound accepted in a configuration.</summary>
    public const int MaxConfigurableSpeechMs = 3000;

    /// <summary>The phrase the user is asked to say (shown in prompts; never uploaded).</summary>
    public string Phrase { get; init; } = "hey edge";

    /// <summary>Accepted takes needed.</summary>
    public int TakeCount { get; init; } = 5;

    /// <summary>Attempts allowed per take before the enrollment fails.</summary>
    public int MaxAttemptsPerTake { get; init; } = 3;

    /// <summary>Main speech segment must last at least this long (ms).</summary>
    public int MinSpeechMs { get; init; } = QualityThresholds.MinWakeWordMs;

    /// <summary>Main speech segment must last at most this long (ms).</summary>
    public int MaxSpeechMs { get; init; } = QualityThresholds.MaxWakeWordMs;

    /// <summary>SNR must be above this (dB).</summary>
    public double MinSnrDb { get; init; } = QualityThresholds.MinEnrollmentSnrDb;

    /// <summary>
    /// "Too quiet" when the RMS level of the main speech segment is below this (dBFS, 0 dBFS =
    /// full-scale square wave). -40 dBFS speech RMS is about 30 dB under a comfortable close-talk
    /// level and leaves under 50 dB to the 16-bit floor.
    /// </summary>
    public double MinSpeechRmsDbFs { get; init; } = -40.0;

    /// <summary>A take's mean DTW distance to the accepted takes must be at most this.</summary>
    public double MaxDtwDistance { get; init; } = DefaultMaxDtwDistance;

    /// <summary>Longest recording kept per take (ms): sizes the take buffer.</summary>
    public int MaxTakeMs { get; init; } = 4000;

    /// <summary>Checks every field; <paramref name="reason"/> names the offending one.</summary>
    public bool TryValidate(out string reason)
    {
        reason = string.Empty;
        if (string.IsNullOrWhiteSpace(Phrase) || Phrase.Length > 64)
        {
            reason = "phrase must be 1-64 characters";
        }
        else if (TakeCount is < 1 or > Shared.Contracts.EnrollmentQcReport.MaxTakes)
        {
            reason = $"takes must be 1..{Shared.Contracts.EnrollmentQcReport.MaxTakes}, got {TakeCount}";
        }
        else if (MaxAttemptsPerTake is < 1 or > 10)
        {
            reason = $"max attempts per take must be 1..10, got {MaxAttemptsPerTake}";
        }
        else if (MinSpeechMs < MinConfigurableSpeechMs || MaxSpeechMs > MaxConfigurableSpeechMs || MinSpeechMs >= MaxSpeechMs)
        {
            reason = $"speech bounds must satisfy {MinConfigurableSpeechMs} <= minSpeechMs < maxSpeechMs <= {MaxConfigurableSpeechMs}, got {MinSpeechMs}-{MaxSpeechMs} ms";
        }
        else if (!double.IsFinite(MinSnrDb) || MinSnrDb is < 0 or > 60)
        {
            reason = $"min SNR must be 0..60 dB, got {MinSnrDb}";
        }
        else if (!double.IsFinite(MinSpeechRmsDbFs) || MinSpeechRmsDbFs is < -90 or > -6)
        {
            reason = $"min speech level must be -90..-6 dBFS, got {MinSpeechRmsDbFs}";
        }
        else if (!double.IsFinite(MaxDtwDistance) || MaxDtwDistance <= 0)
        {
            reason = $"max DTW distance must be a positive number, got {MaxDtwDistance}";
        }
        else if (MaxTakeMs < MaxSpeechMs + 500 || MaxTakeMs > 30_000)
        {
            reason = $"max take length must be maxSpeechMs + 500 ({MaxSpeechMs + 500})..30000 ms, got {MaxTakeMs}";
        }

        return reason.Length == 0;
    }
}
