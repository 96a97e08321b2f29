using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The model loop members of <see cref="IGatewayStore"/> on a SQLite file and a real PostgreSQL server: keywords caught and missed per
/// model version and bucket (<see cref="IGatewayStore.ReadRecallActivity"/>) with the observed FRR built on them, and the fine-tune policy's
/// stored baseline.</summary>
[Collection("postgres")]
public sealed class GatewayStoreModelLoop_Tests(PostgresFixture postgres) : IDisposable
{
    private const string Old = "kws-1.0.0", New = "kws-1.1.0";
    private static readonly DateTimeOffset HourA = Wire.Time0, HourB = Wire.Time0.AddHours(1); // Time0 is on the hour

    private readonly TempDirectory _dir = new();
    private readonly RecallSeed _seed = new("dev-r");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Counts_caught_and_missed_keywords_per_model_and_bucket_and_the_observed_frr_with_its_wilson_interval(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        // Old model, hour A: 3 keywords caught, 1 false accept (not a keyword), 2 triggers pending (Unknown; unlabelled with a clip),
        // 1 unlabelled trigger without a clip (never pending: nothing to review); 1 keyword missed (TA near miss), 1 FA near miss, 1 pending.
        for (int i = 0; i < 3; i++) _seed.Trigger(Old, HourA.AddMinutes(1 + i), DetectionLabelKind.TrueAccept);
        _seed.Trigger(Old, HourA.AddMinutes(5), DetectionLabelKind.FalseAccept);
        _seed.Trigger(Old, HourA.AddMinutes(6), DetectionLabelKind.Unknown);
        _seed.Trigger(Old, HourA.AddMinutes(7), null);
        _seed.Trigger(Old, HourA.AddMinutes(8), null, clip: false);
        _seed.NearMiss(Old, HourA.AddMinutes(10), DetectionLabelKind.TrueAccept);
        _seed.NearMiss(Old, HourA.AddMinutes(11), DetectionLabelKind.FalseAccept);
        _seed.NearMiss(Old, HourA.AddMinutes(12), DetectionLabelKind.Unknown);
        // Old model, hour B (its first millisecond is B's): 1 caught, 3 missed.
        _seed.Trigger(Old, HourB, DetectionLabelKind.TrueAccept);
        for (int i = 0; i < 3; i++) _seed.NearMiss(Old, HourB.AddMinutes(20 + i), DetectionLabelKind.TrueAccept);
        // New model, hour A: 4 caught, none missed; hour B: only a false near miss and a near miss without a clip (unlabelled: not pending).
        for (int i = 0; i < 4; i++) _seed.Trigger(New, HourA.AddMinutes(30 + i), DetectionLabelKind.TrueAccept);
        _seed.NearMiss(New, HourB.AddMinutes(1), DetectionLabelKind.FalseAccept);
        _seed.NearMiss(New, HourB.AddMinutes(2), null, clip: false);
        // Outside [from, to): not counted.
        _seed.Trigger(Old, HourA.AddMinutes(-1), DetectionLabelKind.TrueAccept);
        _seed.NearMiss(Old, HourB.AddHours(1), DetectionLabelKind.TrueAccept);
        _seed.Flush(store);

        IReadOnlyList<RecallRow> rows = store.ReadRecallActivity(HourA, HourB.AddHours(1), TimeSpan.FromHours(1));
        Assert.Equal(
            [
                new RecallRow(HourA, Old, 3, 1, 2, 1), new RecallRow(HourA, New, 4, 0, 0, 0),
                new RecallRow(HourB, Old, 1, 3, 0, 0), new RecallRow(HourB, New, 0, 0, 0, 0),
            ],
            rows.OrderBy(r => r.BucketStartUtc).ThenBy(r => r.ModelVersion, StringComparer.Ordinal));

        // The series over the same store: FRR and the 95 % Wilson interval (golden values computed independently from the formula).
        var reader = new ModelVersionSeriesReader(store, new FixedClock(HourB.AddMinutes(59)));
        IReadOnlyList<ModelVersionSeries> series = reader.Read(TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        Assert.Equal([Old, New], series.Select(s => s.ModelVersion));
        Assert.All(series, s => Assert.Equal([HourA, HourB], s.Points.Select(p => p.BucketStartUtc)));
        AssertFrr(series[0].Points[0].Frr, 3, 1, 2, 1, 0.25, 0.04558726029536886, 0.6993581599030918);
        AssertFrr(series[0].Points[1].Frr, 1, 3, 0, 0, 0.75, 0.3006418400969081, 0.954412739704631);
        AssertFrr(series[1].Points[0].Frr, 4, 0, 0, 0, 0.0, 0.0, 0.4898908403969213);
        FrrEstimate none = series[1].Points[1].Frr;
        Assert.Equal((0L, 0L, (double?)null, (double?)null, (double?)null), (none.KeywordsCaught, none.KeywordsMissed, none.ObservedFrr, none.Low, none.High));
        // No heartbeats: no listening time, so FA/hour is null while the false accept is still counted.
        Assert.Equal((1L, 0.0, (double?)null, 2L), (series[0].Points[0].Fa.FalseAccepts, series[0].Points[0].Fa.ListeningHours, series[0].Points[0].Fa.FaPerHour,
            series[0].Points[0].Fa.PendingReview));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void The_policy_baseline_only_moves_forward_and_survives_reopening_the_database(string provider)
    {
        var options = postgres.StoreOptions(provider, _dir);
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            Assert.False(store.TryGetModelLoopBaseline(out ModelLoopBaseline? none));
            Assert.Null(none);
            Assert.True(store.AdvanceModelLoopBaseline(new ModelLoopBaseline(HourA, "fine-tune job a", "a")));
            Assert.False(store.AdvanceModelLoopBaseline(new ModelLoopBaseline(HourA.AddMinutes(-1), "fine-tune job older", "older")));
            Assert.False(store.AdvanceModelLoopBaseline(new ModelLoopBaseline(HourA, "fine-tune job same time", "same")));
            Assert.True(store.AdvanceModelLoopBaseline(new ModelLoopBaseline(HourB, "fine-tune job b", "b")));
        }
        using IGatewayStore reopened = GatewayStores.Open(options);
        Assert.True(reopened.TryGetModelLoopBaseline(out ModelLoopBaseline? stored));
        Assert.Equal(new ModelLoopBaseline(HourB, "fine-tune job b", "b"), stored);
    }

    private static void AssertFrr(FrrEstimate f, long caught, long missed, long pendingTriggers, long pendingNear, double frr, double low, double high)
    {
        Assert.Equal((caught, missed, pendingTriggers, pendingNear), (f.KeywordsCaught, f.KeywordsMissed, f.PendingTriggers, f.PendingNearMisses));
        Assert.Equal(frr, f.ObservedFrr!.Value, 12);
        Assert.Equal(low, f.Low!.Value, 9);
        Assert.Equal(high, f.High!.Value, 9);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
