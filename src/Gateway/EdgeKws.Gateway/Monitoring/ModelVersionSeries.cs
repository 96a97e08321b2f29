using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// Observed FRR of one bucket: keywords the device missed that reached the gateway as TrueAccept near misses, over every keyword the gateway
/// saw (TrueAccept triggers + TrueAccept near misses), with a 95 % Wilson interval. A <b>lower bound</b> of the real FRR: a keyword whose
/// score peaked below the near-miss band is never uploaded, so it is in neither count. Decided labels only; the pending ones are counted.
/// </summary>
/// <param name="KeywordsCaught">TrueAccept triggers.</param>
/// <param name="KeywordsMissed">TrueAccept near misses.</param>
/// <param name="PendingTriggers">Triggers waiting for a decision (not counted above).</param>
/// <param name="PendingNearMisses">Near misses waiting for a decision (not counted above).</param>
/// <param name="ObservedFrr">missed / (caught + missed); null when the gateway saw no keyword.</param>
/// <param name="Low">Wilson 95 % lower bound, or null.</param>
/// <param name="High">Wilson 95 % upper bound, or null.</param>
public sealed record FrrEstimate(long KeywordsCaught, long KeywordsMissed, long PendingTriggers, long PendingNearMisses, double? ObservedFrr, double? Low, double? High)
{
    /// <summary>The figure from the counts.</summary>
    public static FrrEstimate From(long caught, long missed, long pendingTriggers, long pendingNearMisses)
    {
        long seen = caught + missed;
        return ConfidenceIntervals.TryWilson(missed, seen, out ConfidenceInterval ci)
            ? new FrrEstimate(caught, missed, pendingTriggers, pendingNearMisses, (double)missed / seen, ci.Low, ci.High)
            : new FrrEstimate(caught, missed, pendingTriggers, pendingNearMisses, null, null, null);
    }
}

/// <summary>One bucket of a model version's production series: FA/hour (as <c>/api/metrics/fa/series</c>) and observed FRR.</summary>
/// <param name="BucketStartUtc">Bucket start.</param>
/// <param name="Fa">The FA/hour point (zeros and nulls when the version had no activity in the bucket).</param>
/// <param name="Frr">The observed FRR point.</param>
public sealed record ModelVersionPoint(DateTimeOffset BucketStartUtc, FaSeriesPoint Fa, FrrEstimate Frr);

/// <summary>A model version's production series.</summary>
/// <param name="ModelVersion">Model.</param>
/// <param name="Points">Every bucket of the window, oldest first.</param>
public sealed record ModelVersionSeries(string ModelVersion, ModelVersionPoint[] Points);

/// <summary>
/// Production FA/hour and observed FRR per model version per bucket: the FA/hour series of <see cref="FleetMonitor.FalseAcceptSeries"/>
/// (reused, not recomputed) joined with <see cref="IGatewayStore.ReadRecallActivity"/> on the same bucket grid.
/// </summary>
/// <param name="store">The gateway store.</param>
/// <param name="clock">Now.</param>
public sealed class ModelVersionSeriesReader(IGatewayStore store, TimeProvider clock)
{
    /// <summary>What the FRR figure is and is not: the API and the page both show this text.</summary>
    public const string FrrNote =
        "Observed FRR = TA near misses / (TA triggers + TA near misses): a lower bound of the real FRR (a keyword that scored below the near-miss band "
        + "is never uploaded, so the gateway cannot count it), from decided labels only (pending reviews are counted, not included); 95 % Wilson interval.";

    /// <summary>Every model version with activity, a detection or a near miss in the window, ordered by version (ordinal).</summary>
    public IReadOnlyList<ModelVersionSeries> Read(TimeSpan window, TimeSpan bucket)
    {
        DateTimeOffset now = clock.GetUtcNow();
        // The same grid as FalseAcceptSeries: buckets aligned to the epoch, the first one holding now - window.
        long bucketMs = (long)bucket.TotalMilliseconds;
        long firstMs = ((now - window).ToUnixTimeMilliseconds() / bucketMs) * bucketMs;
        int count = (int)(((now.ToUnixTimeMilliseconds() - firstMs) / bucketMs) + 1);
        Dictionary<string, FaSeriesPoint[]> fa = new FleetMonitor(store, new FixedTime(now)).FalseAcceptSeries(window, bucket).ToDictionary(s => s.ModelVersion, s => s.Points, StringComparer.Ordinal);
        var recall = new Dictionary<string, RecallRow[]>(StringComparer.Ordinal);
        foreach (RecallRow r in store.ReadRecallActivity(DateTimeOffset.FromUnixTimeMilliseconds(firstMs), now, bucket))
        {
            if (!recall.TryGetValue(r.ModelVersion, out RecallRow[]? rows))
            {
                recall[r.ModelVersion] = rows = new RecallRow[count];
            }
            rows[(int)((r.BucketStartUtc.ToUnixTimeMilliseconds() - firstMs) / bucketMs)] = r;
        }
        return fa.Keys.Union(recall.Keys).Order(StringComparer.Ordinal).Select(version => new ModelVersionSeries(version, Enumerable.Range(0, count).Select(i =>
        {
            DateTimeOffset start = DateTimeOffset.FromUnixTimeMilliseconds(firstMs + (i * bucketMs));
            FaSeriesPoint f = fa.TryGetValue(version, out FaSeriesPoint[]? fs) ? fs[i] : new FaSeriesPoint(start, 0, 0, null);
            RecallRow r = recall.TryGetValue(version, out RecallRow[]? rs) ? rs[i] : default;
            return new ModelVersionPoint(start, f, FrrEstimate.From(r.TrueAcceptTriggers, r.TrueAcceptNearMisses, r.PendingTriggers, r.PendingNearMisses));
        }).ToArray())).ToList();
    }

    // Both series must be read at the same instant, or a bucket boundary crossed between the two reads would give them different grids.
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
