namespace EdgeKws.Shared.Metrics;

/// <summary>
/// Labelled detection counts and listening time of one group (a device, a model version, a cohort, a
/// time bucket). Counts add, so groups roll up in any order (<see cref="Add"/>).
/// </summary>
/// <param name="TrueAccepts">Detections labelled as the keyword really spoken.</param>
/// <param name="FalseAccepts">Detections labelled as not the keyword.</param>
/// <param name="Unlabelled">Detections with no label yet, or labelled unknown.</param>
/// <param name="ListeningSeconds">Seconds of audio the detector actually ran over (heartbeats' listening seconds).</param>
public readonly record struct AcceptCounts(long TrueAccepts, long FalseAccepts, long Unlabelled, double ListeningSeconds)
{
    /// <summary>All detections (labelled or not).</summary>
    public long Detections => TrueAccepts + FalseAccepts + Unlabelled;

    /// <summary>Listening time in hours.</summary>
    public double ListeningHours => ListeningSeconds / 3600.0;

    /// <summary>Sum of two groups.</summary>
    public AcceptCounts Add(AcceptCounts other) => new(
        TrueAccepts + other.TrueAccepts, FalseAccepts + other.FalseAccepts, Unlabelled + other.Unlabelled, ListeningSeconds + other.ListeningSeconds);

    /// <summary>False accepts per listening hour; false when nothing was listened to (the rate is undefined, not zero).</summary>
    public bool TryFaPerHour(out double faPerHour) => DetectionRates.TryFaPerHour(FalseAccepts, ListeningSeconds, out faPerHour);
}

/// <summary>
/// The two numbers a keyword spotter is judged by: false accepts per hour of listening and the false reject
/// rate. Pure arithmetic, no allocation.
/// </summary>
public static class DetectionRates
{
    /// <summary>
    /// False accepts per hour of listening. The denominator is time the detector actually ran (not wall-clock
    /// time: a device that was paused or offline did not have the chance to false-accept). False when
    /// <paramref name="listeningSeconds"/> is not positive and finite, or the count is negative.
    /// </summary>
    public static bool TryFaPerHour(long falseAccepts, double listeningSeconds, out double faPerHour)
    {
        if (falseAccepts < 0 || !double.IsFinite(listeningSeconds) || listeningSeconds <= 0)
        {
            faPerHour = double.NaN;
            return false;
        }
        faPerHour = falseAccepts / (listeningSeconds / 3600.0);
        return true;
    }

    /// <summary>
    /// False reject rate: keyword utterances the detector missed over keyword utterances known to have been spoken.
    /// Only defined where the positives are known (an evaluation set, or review of recorded audio); false when
    /// there are none or the counts are inconsistent.
    /// </summary>
    public static bool TryFalseRejectRate(long missed, long positives, out double frr)
    {
        if (positives <= 0 || missed < 0 || missed > positives)
        {
            frr = double.NaN;
            return false;
        }
        frr = (double)missed / positives;
        return true;
    }
}
