using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Rollout;

/// <summary>Labelled activity of one model version: listening hours, labelled false accepts and detections still pending review.</summary>
/// <param name="ListeningHours">Heartbeat listening hours.</param>
/// <param name="FalseAccepts">Detections labelled false accept.</param>
/// <param name="PendingReview">Detections without a decided label that can still get one (docs/gateway.md, "FA/hour as a range").</param>
public readonly record struct FaActivity(double ListeningHours, long FalseAccepts, long PendingReview = 0)
{
    /// <summary>False accepts per listening hour (decided only), or null without listening time.</summary>
    public double? FaPerHour => ListeningHours > 0 ? FalseAccepts / ListeningHours : null;

    /// <summary>The upper end of the range: (false accepts + pending review) per listening hour, or null without listening time.</summary>
    public double? FaPerHourUpper => ListeningHours > 0 ? (FalseAccepts + PendingReview) / ListeningHours : null;
}

/// <summary>
/// The automatic rollback rule of a staged rollout. The new version trips it when
/// <c>newListeningHours &gt;= MinListeningHours</c> and <c>newFalseAccepts &gt;= MinFalseAccepts</c> and
/// <c>newFaPerHour &gt; RatioLimit x oldFaPerHour + SlackFaPerHour</c> (defaults 2 h, 3, 1.5, 0.5).
/// The old version's FA/hour is its fleet-wide production figure over the comparison window when it has at least
/// <c>MinListeningHours</c> there; otherwise its offline streaming evaluation (the registry's figure); otherwise 0.
/// Why this shape: the ratio tolerates the normal spread between device populations (canaries are few), the slack keeps a
/// near-zero old rate from turning one unlucky false accept into a rollback, and the minimums keep the rule from judging
/// on too little evidence (one false accept in 10 minutes is 6 FA/hour).
/// <para>Detections pending review: the rule trips on decided false accepts only (a pending clip is not evidence of a false
/// accept), but when it would trip with every pending detection of the new version counted as a false accept (the upper end of
/// the FA/hour range), the watch says <see cref="FaWatch.Hold"/>: the rollout does not advance a step or complete until the
/// reviews are decided, so a review backlog cannot carry a bad model to the whole fleet. The old version's reference stays its
/// decided figure.</para>
/// </summary>
public static class ProductionFaRule
{
    /// <summary>Evaluates the rule.</summary>
    public static FaWatch Evaluate(FaActivity newVersion, FaActivity oldFleet, double? oldOfflineFaPerHour, RolloutOptions options, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(options);
        double old;
        string source;
        if (oldFleet.ListeningHours >= options.MinListeningHours && oldFleet.FaPerHour is { } measured)
        {
            old = measured;
            source = string.Create(CultureInfo.InvariantCulture, $"fleet: {oldFleet.FalseAccepts} FA in {oldFleet.ListeningHours:0.###} h");
        }
        else if (oldOfflineFaPerHour is { } offline && double.IsFinite(offline))
        {
            old = offline;
            source = string.Create(CultureInfo.InvariantCulture, $"offline evaluation (fleet has only {oldFleet.ListeningHours:0.###} h)");
        }
        else
        {
            old = 0;
            source = string.Create(CultureInfo.InvariantCulture, $"none (fleet has only {oldFleet.ListeningHours:0.###} h, no offline figure)");
        }
        double limit = (options.RatioLimit * old) + options.SlackFaPerHour;
        (bool trip, string verdict) = Judge(newVersion, old, source, limit, options);
        bool hold = false;
        if (!trip && newVersion.PendingReview > 0)
        {
            // The worst case: every pending detection decided a false accept.
            var worst = newVersion with { FalseAccepts = newVersion.FalseAccepts + newVersion.PendingReview, PendingReview = 0 };
            if (Judge(worst, old, source, limit, options).Trip)
            {
                hold = true;
                verdict = string.Create(CultureInfo.InvariantCulture,
                    $"holding: production FA/hour {FaRangeText.Format(newVersion.FaPerHour ?? 0, worst.FaPerHour ?? 0, newVersion.PendingReview)} in {newVersion.ListeningHours:0.####} h; the upper end > limit {limit:0.###}: the next step waits until the {newVersion.PendingReview} pending reviews are decided (decided: {verdict})");
            }
        }
        return new FaWatch(nowUtc, newVersion.ListeningHours, newVersion.FalseAccepts, newVersion.FaPerHour, old, source, limit, trip, verdict,
            newVersion.PendingReview, newVersion.FaPerHourUpper, hold);
    }

    private static (bool Trip, string Verdict) Judge(FaActivity newVersion, double old, string source, double limit, RolloutOptions options)
    {
        double? fa = newVersion.FaPerHour;
        if (newVersion.ListeningHours < options.MinListeningHours)
        {
            return (false, string.Create(CultureInfo.InvariantCulture,
                $"waiting: {newVersion.ListeningHours:0.####} of {options.MinListeningHours} listening hours of the new version"));
        }
        if (newVersion.FalseAccepts < options.MinFalseAccepts)
        {
            return (false, string.Create(CultureInfo.InvariantCulture,
                $"ok: {newVersion.FalseAccepts} labelled false accepts (the rule needs >= {options.MinFalseAccepts} to trip)"));
        }
        if (fa > limit)
        {
            return (true, string.Create(CultureInfo.InvariantCulture,
                $"production FA/hour {fa:0.###} ({newVersion.FalseAccepts} in {newVersion.ListeningHours:0.####} h) > {options.RatioLimit} x {old:0.###} + {options.SlackFaPerHour} = {limit:0.###} (old: {source})"));
        }
        return (false, string.Create(CultureInfo.InvariantCulture, $"ok: FA/hour {fa:0.###} <= limit {limit:0.###} (old: {source})"));
    }
}
