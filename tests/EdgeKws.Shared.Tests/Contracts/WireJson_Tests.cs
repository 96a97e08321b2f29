using System.Text;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Tests.Contracts;

public class WireJson_Tests
{
    [Fact]
    public void Round_trips_a_detection_with_camel_case_names_and_schema_version()
    {
        byte[] json = WireJson.Serialize(Samples.Detection());
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains("\"schemaVersion\":1", text, StringComparison.Ordinal);
        Assert.Contains($"\"featureConfigHash\":\"{Samples.Hash}\"", text, StringComparison.Ordinal);
        Assert.Contains("\"deviceTimeUtc\":\"2026-11-20T12:00:00+00:00\"", text, StringComparison.Ordinal);

        Assert.True(WireJson.TryDeserialize(json, WireJsonContext.Default.DetectionReport, out DetectionReport? back, out string reason), reason);
        Assert.Equal(Samples.Detection().ClipId, back.ClipId);
        Assert.Equal(0.93f, back.Score);
        Assert.Equal(123_456, back.StreamOffsetMs);
        Assert.Equal(json, WireJson.Serialize(back));
    }

    [Fact]
    public void Round_trips_heartbeat_model_status_device_status_and_sketch()
    {
        Heartbeat hb = Samples.Heartbeat();
        Assert.True(WireJson.TryDeserialize(WireJson.Serialize(hb), WireJsonContext.Default.Heartbeat, out Heartbeat? hb2, out string r1), r1);
        Assert.Equal(WireJson.Serialize(hb), WireJson.Serialize(hb2));

        ModelStatus ms = Samples.ModelStatus();
        byte[] msJson = WireJson.Serialize(ms);
        Assert.Contains("\"activeSlot\":\"B\"", Encoding.UTF8.GetString(msJson), StringComparison.Ordinal);
        Assert.True(WireJson.TryDeserialize(msJson, WireJsonContext.Default.ModelStatus, out ModelStatus? ms2, out string r2), r2);
        Assert.Equal(ModelUpdateResult.RejectedHealthCheck, ms2.UpdateResult);

        var st = new DeviceStatus { DeviceId = "dev-001", State = DeviceState.Offline, Reason = "connection lost" };
        Assert.True(WireJson.TryDeserialize(WireJson.Serialize(st), WireJsonContext.Default.DeviceStatus, out DeviceStatus? st2, out string r3), r3);
        Assert.Equal(DeviceState.Offline, st2.State);

        DriftSketch sk = Samples.Sketch(3);
        byte[] skJson = WireJson.Serialize(sk);
        Assert.True(WireJson.TryDeserialize(skJson, WireJsonContext.Default.DriftSketch, out DriftSketch? sk2, out string r4), r4);
        Assert.Equal(sk.MfccCounts, sk2.MfccCounts);
        Assert.Equal(skJson, WireJson.Serialize(sk2));
        Assert.True(skJson.Length < WireLimits.MaxJsonBytes);
    }

    [Fact]
    public void Rejects_an_unknown_schema_version_naming_the_supported_one()
    {
        byte[] json = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(WireJson.Serialize(Samples.Detection()))
            .Replace("\"schemaVersion\":1", "\"schemaVersion\":2", StringComparison.Ordinal));
        Assert.False(WireJson.TryDeserialize(json, WireJsonContext.Default.DetectionReport, out _, out string reason));
        Assert.Equal("DetectionReport: schemaVersion 2 is not supported (supported: 1)", reason);
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("null", "JSON null")]
    [InlineData("{\"schemaVersion\":\"1\"}", "not valid JSON")]
    public void Rejects_malformed_payloads_without_throwing(string payload, string expected)
    {
        Assert.False(WireJson.TryDeserialize(Encoding.UTF8.GetBytes(payload), WireJsonContext.Default.Heartbeat, out _, out string reason));
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_payloads_over_the_size_limit_before_parsing()
    {
        var big = new byte[WireLimits.MaxJsonBytes + 1];
        Assert.False(WireJson.TryDeserialize(big, WireJsonContext.Default.DetectionReport, out _, out string reason));
        Assert.Contains("max 65536", reason, StringComparison.Ordinal);
    }
}

public class MessageValidation_Tests
{
    public static TheoryData<Func<DetectionReport, DetectionReport>, string> BadDetections => new()
    {
        { d => new DetectionReport { DeviceId = "a/b", DeviceTimeUtc = d.DeviceTimeUtc, ModelVersion = "m", FeatureConfigHash = Samples.Hash }, "deviceId" },
        { d => Clone(d, score: 1.5f), "score must be in [0, 1]" },
        { d => Clone(d, score: float.NaN), "score" },
        { d => Clone(d, offset: -1), "streamOffsetMs" },
        { d => Clone(d, hash: "abc"), "featureConfigHash must be the SHA-256 as 64 lowercase hex digits, got 3 characters" },
        { d => Clone(d, hash: Samples.OldHash), "featureConfigHash must be the SHA-256 as 64 lowercase hex digits, got 16 characters '0123456789abcdef'" },
        { d => Clone(d, hash: Samples.Hash.ToUpperInvariant()), "featureConfigHash must be 64 lowercase hex digits, got '" },
        { d => Clone(d, hash: string.Empty), "featureConfigHash is required" },
        { d => Clone(d, model: ""), "modelVersion is required" },
        { d => Clone(d, time: new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(2))), "must be UTC" },
        { d => Clone(d, time: new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero)), "device clock not set" },
        { d => Clone(d, clip: Guid.Empty), "clipId is the empty GUID" },
    };

    [Theory]
    [MemberData(nameof(BadDetections))]
    public void Detection_rejects_each_bad_field_by_name(Func<DetectionReport, DetectionReport> breakIt, string expected)
    {
        Assert.True(Samples.Detection().TryValidate(out string ok), ok);
        Assert.False(breakIt(Samples.Detection()).TryValidate(out string reason));
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Heartbeat_rejects_listening_time_longer_than_the_interval()
    {
        Assert.True(Samples.Heartbeat().TryValidate(out string ok), ok);
        var hb = new Heartbeat
        {
            DeviceId = "dev-001",
            DeviceTimeUtc = Samples.Now,
            IntervalSeconds = 60,
            ListeningSeconds = 75,
            ModelVersion = "m",
        };
        Assert.False(hb.TryValidate(out string reason));
        Assert.Contains("listeningSeconds 75 exceeds intervalSeconds 60", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Heartbeat_rejects_negative_counters_and_a_zero_interval()
    {
        var neg = new Heartbeat { DeviceId = "d", DeviceTimeUtc = Samples.Now, IntervalSeconds = 60, ModelVersion = "m", OutboxEvictedCount = -1 };
        Assert.False(neg.TryValidate(out string r1));
        Assert.Contains("outboxEvictedCount", r1, StringComparison.Ordinal);
        var zero = new Heartbeat { DeviceId = "d", DeviceTimeUtc = Samples.Now, IntervalSeconds = 0, ModelVersion = "m" };
        Assert.False(zero.TryValidate(out string r2));
        Assert.Contains("intervalSeconds must be in (0", r2, StringComparison.Ordinal);
    }

    [Fact]
    public void Heartbeat_totals_round_trip_and_stay_optional_in_schema_1()
    {
        Heartbeat withTotals = new()
        {
            DeviceId = "dev-001",
            DeviceTimeUtc = Samples.Now,
            IntervalSeconds = 60,
            ListeningSeconds = 60,
            ModelVersion = "m",
            Totals = new HeartbeatTotals
            {
                Epoch = "0123456789abcdef",
                ListeningSeconds = 3600.5,
                Detections = 7,
                AudioOverruns = 1,
                Outbox = new OutboxTotals { Heartbeat = new OutboxClassTotals { Written = 60, Evicted = 3, Dropped = 2 } },
            },
        };
        byte[] json = WireJson.Serialize(withTotals);
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains("\"totals\":{\"epoch\":\"0123456789abcdef\",\"listeningSeconds\":3600.5", text, StringComparison.Ordinal);
        Assert.Contains("\"heartbeat\":{\"written\":60,\"evicted\":3,\"expired\":0,\"failed\":0,\"dropped\":2}", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"lost\"", text, StringComparison.Ordinal);
        Assert.True(WireJson.TryDeserialize(json, WireJsonContext.Default.Heartbeat, out Heartbeat? back, out string why), why);
        Assert.Equal(5, back.Totals!.Outbox.Heartbeat.Lost);
        Assert.Equal(1, back.SchemaVersion); // the same schema: the member is optional

        // A heartbeat of a device that predates totals still validates, and so does one with members this build does not know.
        Assert.True(Samples.Heartbeat().TryValidate(out string ok), ok);
        Assert.Null(Samples.Heartbeat().Totals);
        byte[] future = Encoding.UTF8.GetBytes(text.Replace("\"totals\":{", "\"aFieldFromLater\":1,\"totals\":{\"more\":[1,2],", StringComparison.Ordinal));
        Assert.True(WireJson.TryDeserialize(future, WireJsonContext.Default.Heartbeat, out _, out why), why);
    }

    [Theory]
    [InlineData("", "totals.epoch must be 1 to 64 characters")]
    [InlineData("Upper", "totals.epoch 'Upper' may contain only 0-9, a-z and '-'")]
    public void Heartbeat_totals_name_a_bad_epoch(string epoch, string expected)
    {
        var hb = new Heartbeat
        {
            DeviceId = "d",
            DeviceTimeUtc = Samples.Now,
            IntervalSeconds = 60,
            ModelVersion = "m",
            Totals = new HeartbeatTotals { Epoch = epoch },
        };
        Assert.False(hb.TryValidate(out string reason));
        Assert.StartsWith(expected, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Heartbeat_totals_refuse_negative_counts_naming_the_class()
    {
        var hb = new Heartbeat
        {
            DeviceId = "d",
            DeviceTimeUtc = Samples.Now,
            IntervalSeconds = 60,
            ModelVersion = "m",
            Totals = new HeartbeatTotals { Epoch = "e1", Outbox = new OutboxTotals { ClipAudio = new OutboxClassTotals { Evicted = -1 } } },
        };
        Assert.False(hb.TryValidate(out string reason));
        Assert.StartsWith("totals.outbox.clipAudio.evicted must be >= 0", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelStatus_requires_a_reason_for_a_failed_update()
    {
        Assert.True(Samples.ModelStatus().TryValidate(out string ok), ok);
        var noReason = new ModelStatus
        {
            DeviceId = "dev-001",
            DeviceTimeUtc = Samples.Now,
            ActiveSlot = ModelSlot.A,
            ActiveModelVersion = "v1",
            UpdateResult = ModelUpdateResult.RolledBack,
            TargetModelVersion = "v2",
        };
        Assert.False(noReason.TryValidate(out string reason));
        Assert.Equal("reason is required when updateResult is RolledBack", reason);
    }

    [Fact]
    public void ModelStatus_rejects_an_undefined_slot()
    {
        var bad = new ModelStatus
        {
            DeviceId = "dev-001",
            DeviceTimeUtc = Samples.Now,
            ActiveSlot = (ModelSlot)7,
            ActiveModelVersion = "v1",
            UpdateResult = ModelUpdateResult.None,
        };
        Assert.False(bad.TryValidate(out string reason));
        Assert.Contains("activeSlot 7", reason, StringComparison.Ordinal);
    }

    private static DetectionReport Clone(DetectionReport d, float? score = null, long? offset = null, string? hash = null, string? model = null,
        DateTimeOffset? time = null, Guid? clip = null) => new()
        {
            DeviceId = d.DeviceId,
            DeviceTimeUtc = time ?? d.DeviceTimeUtc,
            StreamOffsetMs = offset ?? d.StreamOffsetMs,
            Score = score ?? d.Score,
            Keyword = d.Keyword,
            ModelVersion = model ?? d.ModelVersion,
            FeatureConfigHash = hash ?? d.FeatureConfigHash,
            ClipId = clip ?? d.ClipId,
        };
}
