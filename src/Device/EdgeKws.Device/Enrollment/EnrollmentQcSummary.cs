using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// Reduces a session to the upload-safe <see cref="EnrollmentQcReport"/>: counts and the min/mean/max of the
/// accepted takes' figures, rounded to 2 decimals. Nothing that could carry audio, features or the template.
/// </summary>
internal static class EnrollmentQcSummary
{
    public static EnrollmentQcReport Build(EnrollmentSession session, string deviceId, DateTimeOffset deviceTimeUtc,
        EnrollmentOutcome outcome, EnrollmentData? enrollment)
    {
        ReadOnlySpan<TakeFigures> acc = session.AcceptedFigures;
        double? minSnr = null, sumSnr = null, minMs = null, maxMs = null, minRms = null, maxRms = null;
        foreach (TakeFigures f in acc)
        {
            minSnr = Min(minSnr, f.SnrDb);
            sumSnr = f.SnrDb is double s ? (sumSnr ?? 0) + s : sumSnr;
            minMs = Min(minMs, f.SpeechMs);
            maxMs = Max(maxMs, f.SpeechMs);
            minRms = Min(minRms, f.SpeechRmsDbFs);
            maxRms = Max(maxRms, f.SpeechRmsDbFs);
        }

        double? maxDtw = null;
        if (enrollment is not null)
        {
            foreach (EnrolledTake t in enrollment.Takes)
            {
                maxDtw = Max(maxDtw, t.DtwToTemplate);
            }
        }
        else
        {
            foreach (TakeFigures f in acc)
            {
                maxDtw = Max(maxDtw, f.DtwDistance);
            }
        }

        return new EnrollmentQcReport
        {
            DeviceId = deviceId,
            DeviceTimeUtc = deviceTimeUtc,
            Outcome = outcome,
            FeatureConfigHash = session.FeatureConfigHash,
            TakesRequested = session.Policy.TakeCount,
            TakesAccepted = session.AcceptedCount,
            Attempts = session.AttemptCount,
            Rejections = session.RejectionCounts,
            MinSnrDb = Round(minSnr),
            MeanSnrDb = acc.Length > 0 && sumSnr is double total ? Round(total / acc.Length) : null,
            MinSpeechMs = Round(minMs),
            MaxSpeechMs = Round(maxMs),
            MinSpeechRmsDbFs = Round(minRms),
            MaxSpeechRmsDbFs = Round(maxRms),
            MaxDtwDistance = Round(maxDtw),
            DtwThreshold = session.Policy.MaxDtwDistance,
        };
    }

    private static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    private static double? Round(double? v) => v is double x ? Math.Round(x, 2) : null;
}
