using System.Globalization;
using System.Text.Json;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Rollout.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>Writes device messages into a store through the real validator and <see cref="IIngestStore.WriteBatch"/>, as ingest does.</summary>
internal sealed class DeviceFeed(IGatewayStore store)
{
    public static readonly string ConfigHash = new('a', 64);
    private readonly Dictionary<string, long> _seq = new(StringComparer.Ordinal);

    public long Write(string device, MessageKind kind, byte[] payload, DateTimeOffset receivedUtc)
    {
        long seq = _seq[device] = _seq.GetValueOrDefault(device) + 1;
        var props = new List<KeyValuePair<string, string>>
        {
            new(UserProperties.Sequence, seq.ToString(CultureInfo.InvariantCulture)),
            new(UserProperties.SchemaVersion, "1"),
            new(UserProperties.MessageKind, Topics.KindSegment(kind)),
            new(UserProperties.FeatureConfigHash, ConfigHash),
        };
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, kind), payload, props, null, receivedUtc);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        var results = new IngestResult[1];
        store.WriteBatch([new StoreWrite(envelope, m, RejectionKind.None, string.Empty)], results);
        Assert.Equal(IngestOutcome.Stored, results[0].Outcome);
        return seq;
    }

    public long Status(string device, string active, ModelUpdateResult result, string? target, DateTimeOffset at, string? reason = null) =>
        Write(device, MessageKind.ModelStatus, WireJson.Serialize(new ModelStatus
        {
            DeviceId = device,
            DeviceTimeUtc = at,
            ActiveSlot = ModelSlot.A,
            ActiveModelVersion = active,
            UpdateResult = result,
            TargetModelVersion = target,
            Reason = reason ?? (result is ModelUpdateResult.None or ModelUpdateResult.Activated ? null : "test: " + result),
        }), at);

    /// <summary>A presence message (retained Online on connect, Offline on a clean shutdown or as the broker's will): no sequence,
    /// as the device publishes it.</summary>
    public void Presence(string device, DeviceState state, DateTimeOffset receivedUtc)
    {
        var props = new List<KeyValuePair<string, string>>
        {
            new(UserProperties.SchemaVersion, "1"),
            new(UserProperties.MessageKind, Topics.KindSegment(MessageKind.Status)),
        };
        byte[] payload = WireJson.Serialize(new DeviceStatus { DeviceId = device, State = state, Reason = state == DeviceState.Offline ? "connection lost" : null });
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, MessageKind.Status), payload, props, null, receivedUtc);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        var results = new IngestResult[1];
        store.WriteBatch([new StoreWrite(envelope, m, RejectionKind.None, string.Empty)], results);
        Assert.Equal(IngestOutcome.Stored, results[0].Outcome);
    }

    public long Heartbeat(string device, string model, DateTimeOffset at, double listeningSeconds) =>
        Write(device, MessageKind.Heartbeat, WireJson.Serialize(new Heartbeat
        {
            DeviceId = device,
            DeviceTimeUtc = at,
            IntervalSeconds = listeningSeconds,
            ListeningSeconds = listeningSeconds,
            Detections = 0,
            ModelVersion = model,
            RssBytes = 10_000_000,
            UptimeSeconds = 3600,
        }), at);

    /// <summary>A detection; with <paramref name="clipId"/> it refers to that trigger clip (see <see cref="FeatureClip"/>).</summary>
    public long Detection(string device, string model, DateTimeOffset at, Guid? clipId = null) =>
        Write(device, MessageKind.Detection, WireJson.Serialize(new DetectionReport
        {
            DeviceId = device,
            DeviceTimeUtc = at,
            StreamOffsetMs = 0,
            Score = 0.9f,
            Keyword = "hey edge",
            ModelVersion = model,
            FeatureConfigHash = ConfigHash,
            ClipId = clipId,
        }), at);

    /// <summary>A trigger clip as the agent always uploads it (MFCC features; raw audio only with consent): a detection that refers
    /// to it and has no label yet is pending review.</summary>
    public long FeatureClip(string device, Guid clipId, DateTimeOffset at)
    {
        const int Frames = 8, Coefficients = 13;
        var frame = new byte[ClipFeatures.GetFrameSizeBytes(Frames, Coefficients)];
        ClipFeatures.Write(frame, clipId, at, 16_000, Convert.FromHexString(ConfigHash), Coefficients, new float[Frames * Coefficients]);
        return Write(device, MessageKind.ClipFeatures, frame, at);
    }
}

/// <summary>Registry records without a training run, for the state-machine tests (the controller only ships their bytes).</summary>
internal static class Registered
{
    private static readonly JsonElement Empty = JsonDocument.Parse("{}").RootElement.Clone();

    public static RegisteredModel Model(string version, ModelStage stage, double faPerHour = 1.0, string gate = "PROMOTE: test") => new(
        "kws", version, null, "dataset-1", DeviceFeed.ConfigHash, "abc123", false, $"kws-{version}.int8.onnx", new string('b', 64), 5000, 0.8f, "0123456789abcdef",
        faPerHour, 0.05, 0.2, "test set", stage != ModelStage.Refused, gate, null, Empty, Empty, null, stage, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);

    /// <summary>A package whose model is <paramref name="modelBytes"/> bytes of a version-specific pattern.</summary>
    public static ModelPackage Package(string version, int modelBytes = 10_000) =>
        new(System.Text.Encoding.UTF8.GetBytes($"{{\"modelVersion\":\"{version}\"}}"), new byte[64],
            Enumerable.Range(0, modelBytes).Select(i => (byte)(i * 7 + version.Length)).ToArray());
}
