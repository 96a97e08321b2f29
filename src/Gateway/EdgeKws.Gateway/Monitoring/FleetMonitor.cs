using System.Globalization;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>The monitoring windows: 1 h, 24 h, 7 d.</summary>
public static class MetricsWindows
{
    /// <summary>Names in the API ("1h", "24h", "7d") and their lengths.</summary>
    public static readonly IReadOnlyList<(string Name, TimeSpan Length)> All =
        [("1h", TimeSpan.FromHours(1)), ("24h", TimeSpan.FromHours(24)), ("7d", TimeSpan.FromDays(7))];

    /// <summary>Parses a window name; false (with the allowed names) otherwise.</summary>
    public static bool TryParse(string? name, out TimeSpan length, out string reason)
    {
        foreach ((string n, TimeSpan l) in All)
        {
            if (string.Equals(n, name, StringComparison.Ordinal))
            {
                length = l;
                reason = string.Empty;
                return true;
            }
        }
        length = default;
        reason = $"window '{name}' is not one of 1h, 24h, 7d";
        return false;
    }
}

/// <summary>How FA/hour groups devices.</summary>
public enum FaScope
{
    /// <summary>One group per device.</summary>
    Device,

    /// <summary>One group per model version.</summary>
    Model,

    /// <summary>One group per device cohort ("(none)" for devices without one).</summary>
    Cohort,

    /// <summary>The whole fleet.</summary>
    Fleet,
}

/// <summary>FA/hour of one group.</summary>
/// <param name="Scope">Grouping.</param>
/// <param name="Key">Device id, model version, cohort, or "fleet".</param>
/// <param name="TrueAccepts">Labelled true accepts.</param>
/// <param name="FalseAccepts">Labelled false accepts.</param>
/// <param name="Unlabelled">Detections without a decided label.</param>
/// <param name="ListeningHours">Listening hours (from heartbeat totals where devices send them, so a lost heartbeat costs
/// none; see <see cref="HeartbeatListening"/>).</param>
/// <param name="FaPerHour">False accepts per listening hour; null without listening time.</param>
/// <param name="DenominatorComplete">False when some listening time of the group cannot be accounted for (a device's
/// totals restarted, or a device without totals reported outbox losses): FA/hour may then be too high.</param>
/// <param name="DetectionsLost">Detections the group's devices report their outboxes lost in the window (never stored at
/// the gateway, so never labelled): FA/hour may then be too low.</param>
/// <param name="PendingReview">Of <paramref name="Unlabelled"/>, detections still waiting for a decision (labelled Unknown, or
/// unlabelled with a stored clip; docs/gateway.md "FA/hour as a range").</param>
/// <param name="FaPerHourUpper">The upper end of the FA/hour range, (false accepts + pending review) / listening hours: what
/// FA/hour becomes if every pending detection is decided a false accept. <paramref name="FaPerHour"/> is the lower end (decided
/// false accepts only). Null without listening time.</param>
public sealed record FaGroup(FaScope Scope, string Key, long TrueAccepts, long FalseAccepts, long Unlabelled, double ListeningHours, double? FaPerHour,
    bool DenominatorComplete = true, long DetectionsLost = 0, long PendingReview = 0, double? FaPerHourUpper = null);

/// <summary>How an FA/hour range is written for people (alert messages, rollout verdicts; the dashboard writes the same in JavaScript).</summary>
public static class FaRangeText
{
    /// <summary>"0.8 – 2.4 FA/h (3 pending review)": the decided value, the upper end and the detections pending review.</summary>
    public static string Format(double decided, double upper, long pendingReview) =>
        string.Create(CultureInfo.InvariantCulture, $"{decided:0.###} – {upper:0.###} FA/h ({pendingReview} pending review)");
}

/// <summary>One bucket of an FA/hour series.</summary>
/// <param name="BucketStartUtc">Bucket start.</param>
/// <param name="FalseAccepts">False accepts.</param>
/// <param name="ListeningHours">Listening hours.</param>
/// <param name="FaPerHour">FA/hour; null without listening time.</param>
/// <param name="DenominatorComplete">False when some of the bucket's listening time cannot be accounted for.</param>
/// <param name="PendingReview">Detections of the bucket still waiting for a decision.</param>
/// <param name="FaPerHourUpper">(false accepts + pending review) / listening hours; null without listening time.</param>
public sealed record FaSeriesPoint(DateTimeOffset BucketStartUtc, long FalseAccepts, double ListeningHours, double? FaPerHour, bool DenominatorComplete = true,
    long PendingReview = 0, double? FaPerHourUpper = null);

/// <summary>An FA/hour series of one model version.</summary>
/// <param name="ModelVersion">Model.</param>
/// <param name="Points">Every bucket of the window, oldest first.</param>
public sealed record FaSeries(string ModelVersion, FaSeriesPoint[] Points);

/// <summary>Drift of one model's merged window against its baseline.</summary>
/// <param name="ModelVersion">Model.</param>
/// <param name="Sketches">Device sketches merged.</param>
/// <param name="Report">The comparison, or null (see <paramref name="Reason"/>).</param>
/// <param name="Reason">Why there is no report (no baseline, no sketches, different configuration).</param>
public sealed record ModelDrift(string ModelVersion, int Sketches, SketchDriftReport? Report, string? Reason);

/// <summary>PSI per MFCC coefficient per time bucket of one model (a heatmap's cells; NaN where a bucket has no data).</summary>
/// <param name="ModelVersion">Model.</param>
/// <param name="BucketStartsUtc">Column starts.</param>
/// <param name="Psi">[coefficient][bucket].</param>
/// <param name="Reason">Why the map is empty, or null.</param>
public sealed record DriftHeatmap(string ModelVersion, DateTimeOffset[] BucketStartsUtc, double[][] Psi, string? Reason);

/// <summary>
/// Monitoring reads over the store: FA/hour by device, model and cohort; FA/hour series; drift against model
/// baselines; DET curves of stored evaluations. All maths lives in <c>EdgeKws.Shared.Metrics</c>; this class only
/// groups store rows. Windows end at the injected clock's now.
/// </summary>
public sealed class FleetMonitor(IGatewayStore store, TimeProvider clock)
{
    /// <summary>Label used for devices without a cohort.</summary>
    public const string NoCohort = "(none)";

    /// <summary>Now, by the injected clock.</summary>
    public DateTimeOffset Now => clock.GetUtcNow();

    /// <summary>FA/hour per group over the window ending now.</summary>
    public IReadOnlyList<FaGroup> FalseAcceptRates(TimeSpan window, FaScope scope)
    {
        DateTimeOffset now = Now;
        IReadOnlyList<ActivityRow> rows = store.ReadActivity(now - window, now, window + TimeSpan.FromDays(1));
        IReadOnlyDictionary<string, string> cohorts = scope == FaScope.Cohort ? store.ReadCohorts() : new Dictionary<string, string>();
        var groups = new SortedDictionary<string, (AcceptCounts Counts, bool Incomplete, long Lost)>(StringComparer.Ordinal);
        foreach (ActivityRow r in rows)
        {
            string key = scope switch
            {
                FaScope.Device => r.DeviceId,
                FaScope.Model => r.ModelVersion,
                FaScope.Cohort => cohorts.TryGetValue(r.DeviceId, out string? c) ? c : NoCohort,
                _ => "fleet",
            };
            groups.TryGetValue(key, out var a);
            groups[key] = (a.Counts.Add(Counts(r)), a.Incomplete || r.ListeningIncomplete, a.Lost + r.DetectionsLost);
        }
        return groups.Select(g => new FaGroup(scope, g.Key, g.Value.Counts.TrueAccepts, g.Value.Counts.FalseAccepts, g.Value.Counts.Unlabelled,
            g.Value.Counts.ListeningHours, g.Value.Counts.TryFaPerHour(out double fa) ? fa : null, !g.Value.Incomplete, g.Value.Lost,
            g.Value.Counts.PendingReview, g.Value.Counts.TryFaPerHourUpper(out double upper) ? upper : null)).ToList();
    }

    /// <summary>FA/hour per model version in buckets over the window ending now.</summary>
    public IReadOnlyList<FaSeries> FalseAcceptSeries(TimeSpan window, TimeSpan bucket)
    {
        DateTimeOffset now = Now;
        long bucketMs = (long)bucket.TotalMilliseconds;
        long firstMs = ((now - window).ToUnixTimeMilliseconds() / bucketMs) * bucketMs;
        int count = (int)(((now.ToUnixTimeMilliseconds() - firstMs) / bucketMs) + 1);
        IReadOnlyList<ActivityRow> rows = store.ReadActivity(DateTimeOffset.FromUnixTimeMilliseconds(firstMs), now, bucket);
        var perModel = new SortedDictionary<string, (AcceptCounts Counts, bool Incomplete)[]>(StringComparer.Ordinal);
        foreach (ActivityRow r in rows)
        {
            if (!perModel.TryGetValue(r.ModelVersion, out var buckets))
            {
                perModel[r.ModelVersion] = buckets = new (AcceptCounts, bool)[count];
            }
            int i = (int)((r.BucketStartUtc.ToUnixTimeMilliseconds() - firstMs) / bucketMs);
            buckets[i] = (buckets[i].Counts.Add(Counts(r)), buckets[i].Incomplete || r.ListeningIncomplete);
        }
        return perModel.Select(m => new FaSeries(m.Key, m.Value.Select((a, i) => new FaSeriesPoint(
            DateTimeOffset.FromUnixTimeMilliseconds(firstMs + (i * bucketMs)), a.Counts.FalseAccepts, a.Counts.ListeningHours,
            a.Counts.TryFaPerHour(out double fa) ? fa : null, !a.Incomplete,
            a.Counts.PendingReview, a.Counts.TryFaPerHourUpper(out double upper) ? upper : null)).ToArray())).ToList();
    }

    private static AcceptCounts Counts(ActivityRow r) => new(r.TrueAccepts, r.FalseAccepts, r.Unlabelled, r.ListeningSeconds, r.PendingReview);

    /// <summary>Drift per model version (every model with sketches in the window, or one) against its baseline.</summary>
    public IReadOnlyList<ModelDrift> Drift(TimeSpan window, string? modelVersion)
    {
        DateTimeOffset now = Now;
        IReadOnlyList<StoredSketch> sketches = store.ReadSketches(now - window, now, modelVersion);
        var result = new List<ModelDrift>();
        foreach (IGrouping<string, StoredSketch> g in sketches.Where(s => s.Sketch.ModelVersion is not null)
                     .GroupBy(s => s.Sketch.ModelVersion!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            result.Add(CompareWithBaseline(g.Key, g.Select(s => s.Sketch).ToList()));
        }
        if (modelVersion is not null && result.Count == 0)
        {
            result.Add(new ModelDrift(modelVersion, 0, null, $"no sketches of '{modelVersion}' in the window"));
        }
        return result;
    }

    /// <summary>PSI per MFCC coefficient per bucket for one model.</summary>
    public DriftHeatmap Heatmap(string modelVersion, TimeSpan window, TimeSpan bucket)
    {
        DateTimeOffset now = Now;
        long bucketMs = (long)bucket.TotalMilliseconds;
        long firstMs = ((now - window).ToUnixTimeMilliseconds() / bucketMs) * bucketMs;
        int count = (int)(((now.ToUnixTimeMilliseconds() - firstMs) / bucketMs) + 1);
        DateTimeOffset[] starts = Enumerable.Range(0, count).Select(i => DateTimeOffset.FromUnixTimeMilliseconds(firstMs + (i * bucketMs))).ToArray();
        double[][] psi = Enumerable.Range(0, DriftSketchLayout.CoefficientCount).Select(_ => Enumerable.Repeat(double.NaN, count).ToArray()).ToArray();
        if (!store.TryGetModelBaseline(modelVersion, out DriftSketch? baseline))
        {
            return new DriftHeatmap(modelVersion, starts, psi, $"model '{modelVersion}' has no baseline");
        }
        IReadOnlyList<StoredSketch> sketches = store.ReadSketches(DateTimeOffset.FromUnixTimeMilliseconds(firstMs), now, modelVersion);
        var merged = new DriftSketch?[count];
        foreach (StoredSketch s in sketches)
        {
            int i = (int)((s.Sketch.WindowEndUtc.ToUnixTimeMilliseconds() - firstMs) / bucketMs);
            if (i < 0 || i >= count)
            {
                continue;
            }
            merged[i] = merged[i] is null ? s.Sketch : DriftSketch.TryMerge(merged[i]!, s.Sketch, out DriftSketch? m, out _) ? m : merged[i];
        }
        for (int i = 0; i < count; i++)
        {
            if (merged[i] is { } m && SketchDrift.TryCompare(baseline!, m, out SketchDriftReport? r, out _))
            {
                for (int c = 0; c < r!.Mfcc.Length; c++)
                {
                    psi[c][i] = r.Mfcc[c].Psi;
                }
            }
        }
        return new DriftHeatmap(modelVersion, starts, psi, null);
    }

    /// <summary>DET points of the newest stored evaluation of a model, or false with the reason.</summary>
    public bool TryDet(string modelVersion, out EvaluationRecord? evaluation, out DetPoint[] points, out string reason)
    {
        evaluation = store.ReadEvaluations(modelVersion, 1).FirstOrDefault();
        points = [];
        if (evaluation is null)
        {
            reason = $"no evaluation of '{modelVersion}' is stored";
            return false;
        }
        var trials = new ScoredTrial[evaluation.Scores.Length];
        for (int i = 0; i < trials.Length; i++)
        {
            trials[i] = new ScoredTrial(evaluation.Scores[i], evaluation.Positives[i]);
        }
        return DetCurve.TryCompute(trials, evaluation.NegativeHours, out points, out reason);
    }

    private ModelDrift CompareWithBaseline(string model, List<DriftSketch> sketches)
    {
        if (!store.TryGetModelBaseline(model, out DriftSketch? baseline))
        {
            return new ModelDrift(model, sketches.Count, null, $"model '{model}' has no baseline (upload one: PUT /api/models/{model}/baseline)");
        }
        DriftSketch merged = sketches[0];
        for (int i = 1; i < sketches.Count; i++)
        {
            if (!DriftSketch.TryMerge(merged, sketches[i], out DriftSketch? m, out string why))
            {
                return new ModelDrift(model, sketches.Count, null, why);
            }
            merged = m!;
        }
        return SketchDrift.TryCompare(baseline!, merged, out SketchDriftReport? report, out string reason)
            ? new ModelDrift(model, sketches.Count, report, null)
            : new ModelDrift(model, sketches.Count, null, reason);
    }
}
