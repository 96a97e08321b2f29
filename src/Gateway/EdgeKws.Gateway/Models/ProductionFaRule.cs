using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Models;

/// <summary>Labelled activity of one model version: listening hours and labelled false accepts.</summary>
/// <param name="ListeningHours">Heartbeat listening hours.</param>
/// <param name="FalseAccepts">Detections labelled false accept.</param>
public readonly record struct FaActivity(double ListeningHours, long FalseAccepts)
{
    /// <summary>False accepts per listening hour, or null without listening time.</summary>
    public double? FaPerHour => ListeningHours > 0 ? FalseAccepts / ListeningHours : null;
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
        double? fa = newVersion.FaPerHour;
        string verdict;
        bool trip = false;
        if (newVersion.ListeningHours < options.MinListeningHours)
        {
            verdict = string.Create(CultureInfo.InvariantCulture,
                $"waiting: {newVersion.ListeningHours:0.####} of {options.MinListeningHours} listening hours of the new version");
        }
        else if (newVersion.FalseAccepts < options.MinFalseAccepts)
        {
            verdict = string.Create(CultureInfo.InvariantCulture,
                $"ok: {newVersion.FalseAccepts} labelled false accepts (the rule needs >= {options.MinFalseAccepts} to trip)");
        }
        else if (fa > limit)
        {
            trip = true;
            verdict = string.Create(CultureInfo.InvariantCulture,
                $"production FA/hour {fa:0.###} ({newVersion.FalseAccepts} in {newVersion.ListeningHours:0.####} h) > {options.RatioLimit} x {old:0.###} + {options.SlackFaPerHour} = {limit:0.###} (old: {source})");
        }
        else
        {
            verdict = string.Create(CultureInfo.InvariantCulture, $"ok: FA/hour {fa:0.###} <= limit {limit:0.###} (old: {source})");
        }
        return new FaWatch(nowUtc, newVersion.ListeningHours, newVersion.FalseAccepts, fa, old, source, limit, trip, verdict);
    }
}
