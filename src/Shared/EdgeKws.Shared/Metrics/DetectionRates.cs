namespace EdgeKws.Shared.Metrics;

/// <summary>
/// Labelled detection counts and listening time of one group (a device, a model version, a cohort, a
/// time bucket). Counts add, so groups roll up in any order (<see cref="Add"/>).
/// </summary>
/// <param name="TrueAccepts">Detections labelled as the keyword really spoken.</param>
/// <param name="FalseAccepts">Detections labelled as not the keyword.</param>
/// <param name="Unlabelled">Detections with no label yet, or labelled unknown.</param>
/// <param name="ListeningSeconds">Seconds of audio the detector actually ran over (heartbeats' listening seconds).</param>
/// <param name="PendingReview">Of <paramref name="Unlabelled"/>, the detections still waiting for a decision (a clip in the review
/// queue or waiting for the labeller): each may yet turn out a false accept. The rest of the unlabelled ones can never be decided.</param>
public readonly record struct AcceptCounts(long TrueAccepts, long FalseAccepts, long Unlabelled, double ListeningSeconds, long PendingReview = 0)
{
    /// <summary>All detections (labelled or not).</summary>
    public long Detections => TrueAccepts + FalseAccepts + Unlabelled;

    /// <summary>Listening time in hours.</summary>
    public double ListeningHours => ListeningSeconds / 3600.0;

    /// <summary>Sum of two groups.</summary>
    public AcceptCounts Add(AcceptCounts other) => new(
        TrueAccepts + other.TrueAccepts, FalseAccepts + other.FalseAccepts, Unlabelled + other.Unlabelled, ListeningSeconds + other.ListeningSeconds,
        PendingReview + other.PendingReview);

    /// <summary>False accepts per listening hour (decided false accepts only); false when nothing was listened to (the rate is
    /// undefined, not zero).</summary>
    public bool TryFaPerHour(out double faPerHour) => DetectionRates.TryFaPerHour(FalseAccepts, ListeningSeconds, out faPerHour);

    /// <summary>The upper end of the FA/hour range: as if every detection pending review were a false accept,
    /// (<see cref="FalseAccepts"/> + <see cref="PendingReview"/>) / listening hours. Equal to <see cref="TryFaPerHour"/>'s
    /// figure when nothing is pending.</summary>
    public bool TryFaPerHourUpper(out double faPerHour) => DetectionRates.TryFaPerHour(FalseAccepts + PendingReview, ListeningSeconds, out faPerHour);
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
