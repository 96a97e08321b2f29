using System.Text;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Tests.Contracts;

/// <summary>The near-miss wire contract: its own kind and topic, its checks, and the optional near-miss totals in heartbeats.</summary>
public sealed class NearMissWire_Tests
{
    private static NearMissReport Sample(float score = 0.6f, float threshold = 0.8f, float floor = 0.4f) => new()
    {
        DeviceId = "dev-001",
        DeviceTimeUtc = Samples.Now,
        StreamOffsetMs = 6_530,
        Score = score,
        Threshold = threshold,
        BandFloor = floor,
        ModelVersion = "kws-1.2.0",
        FeatureConfigHash = Samples.Hash,
        ClipId = Guid.Parse("0b9f1e52-34f3-4a0e-9d51-1f0c7e1b2a3c"),
    };

    [Fact]
    public void Round_trips_on_its_own_topic_kind()
    {
        Assert.Equal("edgekws/v1/dev-001/near-miss", Topics.Uplink("dev-001", MessageKind.NearMiss));
        Assert.True(Topics.TryParseUplink("edgekws/v1/dev-001/near-miss", out string device, out MessageKind kind, out _));
        Assert.Equal(("dev-001", MessageKind.NearMiss), (device, kind));

        byte[] json = WireJson.Serialize(Sample());
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains("\"bandFloor\":0.4", text, StringComparison.Ordinal);
        Assert.True(WireJson.TryDeserialize(json, WireJsonContext.Default.NearMissReport, out NearMissReport? back, out string why), why);
        Assert.Equal((0.6f, 0.8f, 0.4f, 6_530L), (back.Score, back.Threshold, back.BandFloor, back.StreamOffsetMs));
        Assert.Equal(Sample().ClipId, back.ClipId);
    }

    [Theory]
    [InlineData(0.8f, 0.8f, 0.4f, "score must be in [bandFloor, threshold)")] // a detection's score is not a near miss
    [InlineData(0.39f, 0.8f, 0.4f, "score must be in [bandFloor, threshold)")]
    [InlineData(0.5f, 0.8f, 0.8f, "bandFloor must be in [0, threshold)")]
    [InlineData(0.5f, 1.5f, 0.4f, "threshold must be in (0, 1]")]
    public void Refuses_a_score_outside_the_band_naming_the_field(float score, float threshold, float floor, string expected)
    {
        Assert.False(Sample(score, threshold, floor).TryValidate(out string why));
        Assert.StartsWith(expected, why, StringComparison.Ordinal);
        Assert.True(Sample(0.4f).TryValidate(out why), why); // the floor itself is in the band
    }

    [Fact]
    public void Heartbeat_near_miss_totals_round_trip_and_stay_optional()
    {
        Heartbeat withNearMisses = new()
        {
            DeviceId = "dev-001",
            DeviceTimeUtc = Samples.Now,
            IntervalSeconds = 60,
            ListeningSeconds = 60,
            ModelVersion = "m",
            Totals = new HeartbeatTotals
            {
                Epoch = "e1",
                ListeningSeconds = 600,
                Detections = 4,
                NearMisses = 9,
                NearMissesRateLimited = 2,
                Outbox = new OutboxTotals { NearMiss = new OutboxClassTotals { Written = 14, Evicted = 3, Failed = 1, Dropped = 1 } },
            },
        };
        Assert.True(WireJson.TryDeserialize(WireJson.Serialize(withNearMisses), WireJsonContext.Default.Heartbeat, out Heartbeat? back, out string why), why);
        Assert.Equal((9L, 2L), (back.Totals!.NearMisses, back.Totals.NearMissesRateLimited));
        Assert.Equal((14L, 5L), (back.Totals.Outbox.NearMiss!.Written, back.Totals.Outbox.NearMiss.Lost));
        Assert.Contains(("nearMiss", back.Totals.Outbox.NearMiss), back.Totals.Outbox.All());
        Assert.Equal(4, back.Totals.Detections); // near misses are never detections

        // A device that predates near misses sends none of it: it parses, and the kind is simply absent.
        Heartbeat old = new() { DeviceId = "d", DeviceTimeUtc = Samples.Now, IntervalSeconds = 60, ModelVersion = "m", Totals = new HeartbeatTotals { Epoch = "e1" } };
        string json = Encoding.UTF8.GetString(WireJson.Serialize(old));
        Assert.DoesNotContain("nearMiss", json, StringComparison.OrdinalIgnoreCase);
        Assert.True(WireJson.TryDeserialize(Encoding.UTF8.GetBytes(json), WireJsonContext.Default.Heartbeat, out back, out why), why);
        Assert.Null(back.Totals!.NearMisses);
        Assert.Null(back.Totals.Outbox.NearMiss);
        Assert.DoesNotContain(back.Totals.Outbox.All(), k => k.Kind == "nearMiss");

        // More rate-limited than found is refused.
        Heartbeat bad = new()
        {
            DeviceId = "d",
            DeviceTimeUtc = Samples.Now,
            IntervalSeconds = 60,
            ModelVersion = "m",
            Totals = new HeartbeatTotals { Epoch = "e1", NearMisses = 1, NearMissesRateLimited = 2 },
        };
        Assert.False(bad.TryValidate(out why));
        Assert.Contains("nearMissesRateLimited", why, StringComparison.Ordinal);
    }
}
