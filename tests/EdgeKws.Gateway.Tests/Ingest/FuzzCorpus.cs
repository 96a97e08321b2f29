using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Ingest;

/// <summary>One generated publish.</summary>
internal sealed record FuzzMessage(string Category, string Topic, byte[] Payload, List<(string Name, string Value)> Properties, string? ContentType);

/// <summary>
/// Generates malformed publishes from a seed. Every case is invalid by construction (never a random flip that could
/// leave a message valid, such as a changed digit of a score): random bytes, truncated JSON, wrong schema versions,
/// out-of-range fields, bad or mismatched hashes, bad user properties, wrong and foreign topics, corrupt clip headers,
/// NaN features, audio without consent, and oversized payloads.
/// </summary>
internal sealed class FuzzCorpus(int seed, string deviceId, int maxMessageBytes)
{
    private readonly Random _random = new(seed);
    private long _sequence;

    public const int Categories = 40;

    public FuzzMessage Next(int index)
    {
        long seq = ++_sequence;
        string detTopic = Topics.Uplink(deviceId, MessageKind.Detection);
        List<(string, string)> detProps = Wire.Properties(seq, MessageKind.Detection, Wire.ConfigHash);
        DetectionReport det = Wire.Detection(deviceId, index);
        int c = index % Categories;
        return c switch
        {
            0 => new("random-bytes", detTopic, RandomBytes(_random.Next(0, 600)), detProps, null),
            1 => new("random-bytes-heartbeat", Topics.Uplink(deviceId, MessageKind.Heartbeat), RandomBytes(_random.Next(1, 300)),
                Wire.Properties(seq, MessageKind.Heartbeat, null), null),
            2 => new("truncated-json", detTopic, Truncate(WireJson.Serialize(det)), detProps, null),
            3 => new("truncated-json-sketch", Topics.Uplink(deviceId, MessageKind.DriftSketch), Truncate(WireJson.Serialize(Wire.Sketch(deviceId))),
                Wire.Properties(seq, MessageKind.DriftSketch, Wire.ConfigHash), null),
            4 => new("payload-schema-version", detTopic, Json(Clone(det, d => d with { SchemaVersion = PickOtherSchema() })), detProps, null),
            5 => new("property-schema-version", detTopic, Json(det), Replace(detProps, UserProperties.SchemaVersion, PickOther(["2", "0", "", "abc", "-1", "1.0", " 1"])), null),
            6 => new("score-out-of-range", detTopic, Json(Clone(det, d => d with { Score = _random.Next(2) == 0 ? 1f + (float)_random.NextDouble() + 1e-3f : -(float)_random.NextDouble() - 1e-3f })), detProps, null),
            7 => new("negative-stream-offset", detTopic, Json(Clone(det, d => d with { StreamOffsetMs = -_random.NextInt64(1, long.MaxValue) })), detProps, null),
            8 => new("device-time-too-old", detTopic, Json(Clone(det, d => d with { DeviceTimeUtc = new DateTimeOffset(2019, 12, 31, 0, 0, 0, TimeSpan.Zero).AddDays(-_random.Next(0, 3000)) })), detProps, null),
            9 => new("device-time-future", detTopic, Json(Clone(det, d => d with { DeviceTimeUtc = DateTimeOffset.UtcNow.AddDays(2 + _random.Next(1000)) })), detProps, null),
            10 => new("device-time-not-utc", detTopic, DetectionWithOffset(det), detProps, null),
            11 => new("model-version-missing", detTopic, Json(Clone(det, d => d with { ModelVersion = "" })), detProps, null),
            12 => new("model-version-too-long", detTopic, Json(Clone(det, d => d with { ModelVersion = new string('m', 65 + _random.Next(100)) })), detProps, null),
            13 => new("keyword-control-char", detTopic, Json(Clone(det, d => d with { Keyword = "hey\u0001edge" })), detProps, null),
            14 => new("payload-device-mismatch", detTopic, Json(Clone(det, d => d with { DeviceId = "someone-else" })), detProps, null),
            15 => new("empty-clip-id", detTopic, Json(Clone(det, d => d with { ClipId = Guid.Empty })), detProps, null),
            16 => new("payload-hash-uppercase", detTopic, Json(Clone(det, d => d with { FeatureConfigHash = Wire.ConfigHash.ToUpperInvariant() })), detProps, null),
            17 => new("payload-hash-short", detTopic, Json(Clone(det, d => d with { FeatureConfigHash = Wire.ConfigHash[..(16 + _random.Next(40))] })), detProps, null),
            18 => new("property-hash-bad-form", detTopic, Json(det), Replace(detProps, UserProperties.FeatureConfigHash, PickOther([Wire.ConfigHash.ToUpperInvariant(), Wire.ConfigHash[..63], Wire.ConfigHash + "0", "zz" + Wire.ConfigHash[2..]])), null),
            19 => new("property-hash-mismatch", detTopic, Json(det), Replace(detProps, UserProperties.FeatureConfigHash, OtherHash()), null),
            20 => new("property-hash-missing", detTopic, Json(det), Remove(detProps, UserProperties.FeatureConfigHash), null),
            21 => new("sequence-missing", detTopic, Json(det), Remove(detProps, UserProperties.Sequence), null),
            22 => new("sequence-malformed", detTopic, Json(det), Replace(detProps, UserProperties.Sequence, PickOther(["0", "-5", "abc", "1e3", " 7", "+7", "7.0", "99999999999999999999", ""])), null),
            23 => new("sequence-duplicated-property", detTopic, Json(det), [.. detProps, (UserProperties.Sequence, (seq + 1).ToString(CultureInfo.InvariantCulture))], null),
            24 => new("kind-property-mismatch", detTopic, Json(det), Replace(detProps, UserProperties.MessageKind, PickOther(["heartbeat", "clip-audio", "bogus", ""])), null),
            25 => new("content-type-mismatch", detTopic, Json(det), detProps, ContentTypes.Clip),
            26 => new("topic-unknown-kind", Topics.Root + "/" + deviceId + "/" + PickOther(["bogus", "detections", "cmd", "Detection", "status2"]), Json(det), detProps, null),
            27 => new("topic-extra-level", detTopic + "/" + PickOther(["x", "extra", "cmd"]), Json(det), detProps, null),
            28 => new("topic-foreign-device", Topics.Uplink("victim-" + _random.Next(1000).ToString(CultureInfo.InvariantCulture), MessageKind.Detection), Json(det), detProps, null),
            29 => new("topic-outside-scheme", PickOther(["edgekws/v2/" + deviceId + "/detection", "other/topic", "edgekws/v1", "$SYS/broker", "/edgekws/v1/" + deviceId + "/detection"]), Json(det), detProps, null),
            30 => new("heartbeat-listening-exceeds-interval", Topics.Uplink(deviceId, MessageKind.Heartbeat),
                Json(Clone(Wire.Heartbeat(deviceId, index), h => h with { IntervalSeconds = 60, ListeningSeconds = 61 + _random.Next(1000) })), Wire.Properties(seq, MessageKind.Heartbeat, null), null),
            31 => new("heartbeat-negative-count", Topics.Uplink(deviceId, MessageKind.Heartbeat),
                Json(Clone(Wire.Heartbeat(deviceId, index), h => h with { AudioOverruns = -1 - _random.Next(100) })), Wire.Properties(seq, MessageKind.Heartbeat, null), null),
            32 => new("model-status-missing-reason", Topics.Uplink(deviceId, MessageKind.ModelStatus),
                Json(Clone(Wire.ModelStatus(deviceId), m => m with { UpdateResult = ModelUpdateResult.RolledBack, Reason = null })), Wire.Properties(seq, MessageKind.ModelStatus, null), null),
            33 => new("sketch-wrong-bin-count", Topics.Uplink(deviceId, MessageKind.DriftSketch), SketchWithBins(_random.Next(1, 20)),
                Wire.Properties(seq, MessageKind.DriftSketch, Wire.ConfigHash), null),
            34 => new("clip-bad-magic", Topics.Uplink(deviceId, MessageKind.ClipFeatures), CorruptHeader(Wire.FeatureClip(Guid.NewGuid(), 10), 0),
                Wire.Properties(seq, MessageKind.ClipFeatures, Wire.ConfigHash), ContentTypes.Clip),
            35 => new("clip-truncated", Topics.Uplink(deviceId, MessageKind.ClipFeatures), TruncateClip(Wire.FeatureClip(Guid.NewGuid(), 10)),
                Wire.Properties(seq, MessageKind.ClipFeatures, Wire.ConfigHash), ContentTypes.Clip),
            36 => new("clip-nan-feature", Topics.Uplink(deviceId, MessageKind.ClipFeatures), WithNaN(Wire.FeatureClip(Guid.NewGuid(), 10)),
                Wire.Properties(seq, MessageKind.ClipFeatures, Wire.ConfigHash), ContentTypes.Clip),
            37 => new("clip-audio-without-consent", Topics.Uplink(deviceId, MessageKind.ClipAudio), WithoutConsent(Wire.AudioClip(Guid.NewGuid(), 400)),
                Wire.Properties(seq, MessageKind.ClipAudio, Wire.ConfigHash), ContentTypes.Clip),
            38 => new("clip-header-field", Topics.Uplink(deviceId, MessageKind.ClipFeatures), CorruptHeader(Wire.FeatureClip(Guid.NewGuid(), 10), 1 + _random.Next(4)),
                Wire.Properties(seq, MessageKind.ClipFeatures, Wire.ConfigHash), ContentTypes.Clip),
            _ => Oversized(index, detTopic, detProps, det),
        };
    }

    private FuzzMessage Oversized(int index, string topic, List<(string, string)> props, DetectionReport det)
    {
        // Mostly just over the JSON limit; every 20th oversized case is over the whole-message limit too.
        bool huge = index % (Categories * 20) == Categories - 1;
        int size = huge ? maxMessageBytes + 1 + _random.Next(1000) : WireLimits.MaxJsonBytes + 1 + _random.Next(4000);
        byte[] json = WireJson.Serialize(det);
        var padded = new byte[size];
        padded.AsSpan().Fill((byte)' '); // whitespace: still well-formed JSON, only too big
        json.CopyTo(padded, 0);
        return new FuzzMessage(huge ? "oversized-message" : "oversized-json", topic, padded, props, null);
    }

    private byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        _random.NextBytes(b);
        if (n > 0 && b[0] == (byte)'{')
        {
            b[0] = (byte)'#'; // never start like an object (a random tail cannot complete one anyway; this keeps it obvious)
        }
        return b;
    }

    private byte[] Truncate(byte[] json) => json[..(_random.Next(0, json.Length - 1))];

    private static byte[] Json(DetectionReport d) => WireJson.Serialize(d);

    private static byte[] Json(Heartbeat h) => WireJson.Serialize(h);

    private static byte[] Json(ModelStatus m) => WireJson.Serialize(m);

    private static DetectionReport Clone(DetectionReport d, Func<DetectionRecord, DetectionRecord> change)
    {
        DetectionRecord r = change(new DetectionRecord(d.SchemaVersion, d.DeviceId, d.DeviceTimeUtc, d.StreamOffsetMs, d.Score, d.Keyword, d.ModelVersion, d.FeatureConfigHash, d.ClipId));
        return new DetectionReport
        {
            SchemaVersion = r.SchemaVersion,
            DeviceId = r.DeviceId,
            DeviceTimeUtc = r.DeviceTimeUtc,
            StreamOffsetMs = r.StreamOffsetMs,
            Score = r.Score,
            Keyword = r.Keyword,
            ModelVersion = r.ModelVersion,
            FeatureConfigHash = r.FeatureConfigHash,
            ClipId = r.ClipId,
        };
    }

    private static Heartbeat Clone(Heartbeat h, Func<HeartbeatRecord, HeartbeatRecord> change)
    {
        HeartbeatRecord r = change(new HeartbeatRecord(h.IntervalSeconds, h.ListeningSeconds, h.AudioOverruns));
        return new Heartbeat
        {
            DeviceId = h.DeviceId,
            DeviceTimeUtc = h.DeviceTimeUtc,
            IntervalSeconds = r.IntervalSeconds,
            ListeningSeconds = r.ListeningSeconds,
            Detections = h.Detections,
            AudioOverruns = r.AudioOverruns,
            ModelVersion = h.ModelVersion,
            RssBytes = h.RssBytes,
            UptimeSeconds = h.UptimeSeconds,
        };
    }

    private static ModelStatus Clone(ModelStatus m, Func<ModelStatusRecord, ModelStatusRecord> change)
    {
        ModelStatusRecord r = change(new ModelStatusRecord(m.UpdateResult, m.Reason));
        return new ModelStatus
        {
            DeviceId = m.DeviceId,
            DeviceTimeUtc = m.DeviceTimeUtc,
            ActiveSlot = m.ActiveSlot,
            ActiveModelVersion = m.ActiveModelVersion,
            UpdateResult = r.UpdateResult,
            TargetModelVersion = m.TargetModelVersion,
            Reason = r.Reason,
        };
    }

    private static byte[] DetectionWithOffset(DetectionReport det)
    {
        // The serializer always writes +00:00; rewrite the offset to a non-UTC one.
        string json = Encoding.UTF8.GetString(WireJson.Serialize(det));
        return Encoding.UTF8.GetBytes(json.Replace("+00:00\"", "+02:00\"", StringComparison.Ordinal));
    }

    private byte[] SketchWithBins(int cut)
    {
        DriftSketch s = Wire.Sketch(deviceId);
        var bad = new DriftSketch
        {
            DeviceId = s.DeviceId,
            ModelVersion = s.ModelVersion,
            FeatureConfigHash = s.FeatureConfigHash,
            WindowStartUtc = s.WindowStartUtc,
            WindowEndUtc = s.WindowEndUtc,
            MfccCounts = s.MfccCounts,
            RmsDbfsCounts = s.RmsDbfsCounts,
            SnrDbCounts = s.SnrDbCounts,
            ScoreCounts = s.ScoreCounts[..^cut],
        };
        return WireJson.Serialize(bad);
    }

    private int PickOtherSchema() => PickOther([0, 2, 3, 99, -1, int.MaxValue]);

    private T PickOther<T>(T[] options) => options[_random.Next(options.Length)];

    private string OtherHash()
    {
        var b = new byte[32];
        _random.NextBytes(b);
        string h = Convert.ToHexStringLower(b);
        return h == Wire.ConfigHash ? "0" + h[1..] : h;
    }

    private static List<(string, string)> Replace(List<(string Name, string Value)> props, string name, string value) =>
        props.Select(p => p.Name == name ? (p.Name, value) : p).ToList();

    private static List<(string, string)> Remove(List<(string Name, string Value)> props, string name) =>
        props.Where(p => p.Name != name).ToList();

    private byte[] CorruptHeader(byte[] frame, int field)
    {
        switch (field)
        {
            case 0: frame[_random.Next(4)] ^= (byte)(1 + _random.Next(255)); break; // magic
            case 1: BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), (ushort)(2 + _random.Next(100))); break; // schema
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(6), (ushort)(81 + _random.Next(100))); break; // header length
            case 3: BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(8), (uint)_random.Next(0, 7_999)); break; // sample rate
            default: BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(76), (uint)(frame.Length - 80 + 4 * (1 + _random.Next(100)))); break; // payload length
        }
        return frame;
    }

    private byte[] TruncateClip(byte[] frame) => frame[..(_random.Next(0, frame.Length - 1))];

    private byte[] WithNaN(byte[] frame)
    {
        int values = (frame.Length - ClipFrame.HeaderSizeBytes) / 4;
        float bad = PickOther([float.NaN, float.PositiveInfinity, float.NegativeInfinity]);
        BinaryPrimitives.WriteSingleLittleEndian(frame.AsSpan(ClipFrame.HeaderSizeBytes + (4 * _random.Next(values))), bad);
        return frame;
    }

    private static byte[] WithoutConsent(byte[] frame)
    {
        frame[19] = 0;
        return frame;
    }

    private sealed record DetectionRecord(int SchemaVersion, string DeviceId, DateTimeOffset DeviceTimeUtc, long StreamOffsetMs, float Score,
        string? Keyword, string ModelVersion, string FeatureConfigHash, Guid? ClipId);

    private sealed record HeartbeatRecord(double IntervalSeconds, double ListeningSeconds, int AudioOverruns);

    private sealed record ModelStatusRecord(ModelUpdateResult UpdateResult, string? Reason);
}
