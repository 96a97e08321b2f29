using System.Security.Cryptography;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Tests.Contracts;

/// <summary>Valid messages that tests then break one field at a time.</summary>
internal static class Samples
{
    public static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);
    /// <summary>A stand-in feature configuration hash: the SHA-256 of a test string (computed here, not via the code under test).</summary>
    public static readonly byte[] HashBytes = SHA256.HashData("edgekws test feature config"u8);

    /// <summary><see cref="HashBytes"/> in the wire text form.</summary>
    public static readonly string Hash = Convert.ToHexStringLower(HashBytes);

    /// <summary>The pre-SHA-256 wire form (a 64-bit value as 16 hex digits) that must now be refused.</summary>
    public const string OldHash = "0123456789abcdef";

    public static DetectionReport Detection() => new()
    {
        DeviceId = "dev-001",
        DeviceTimeUtc = Now,
        StreamOffsetMs = 123_456,
        Score = 0.93f,
        Keyword = "hey_edge",
        ModelVersion = "kws-1.2.0",
        FeatureConfigHash = Hash,
        ClipId = Guid.Parse("6f1c2b8e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"),
    };

    public static Heartbeat Heartbeat() => new()
    {
        DeviceId = "dev-001",
        DeviceTimeUtc = Now,
        IntervalSeconds = 60,
        ListeningSeconds = 59.5,
        Detections = 2,
        AudioOverruns = 1,
        OutboxDepthCount = 10,
        OutboxDepthBytes = 4096,
        OutboxEvictedCount = 0,
        OutboxExpiredCount = 0,
        ModelVersion = "kws-1.2.0",
        RssBytes = 12 * 1024 * 1024,
        UptimeSeconds = 3600,
    };

    public static ModelStatus ModelStatus() => new()
    {
        DeviceId = "dev-001",
        DeviceTimeUtc = Now,
        ActiveSlot = ModelSlot.B,
        ActiveModelVersion = "kws-1.2.0",
        UpdateResult = ModelUpdateResult.RejectedHealthCheck,
        TargetModelVersion = "kws-1.3.0",
        Reason = "FA/hour on the check set 0.8 > 0.1",
    };

    public static DriftSketch Sketch(int seed, string? deviceId = "dev-001", string? model = "kws-1.2.0")
    {
        var rng = new Random(seed);
        var sketch = new DriftSketch
        {
            DeviceId = deviceId,
            ModelVersion = model,
            FeatureConfigHash = Hash,
            WindowStartUtc = Now.AddHours(seed),
            WindowEndUtc = Now.AddHours(seed + 1),
        };
        var frame = new float[DriftSketchLayout.CoefficientCount];
        for (int n = 0; n < 50 + seed; n++)
        {
            for (int c = 0; c < frame.Length; c++)
            {
                frame[c] = (float)((rng.NextDouble() * 120) - 60);
            }
            sketch.AddMfccFrame(frame);
            sketch.AddRmsDbfs((float)(rng.NextDouble() * -110));
            sketch.AddSnrDb((float)((rng.NextDouble() * 70) - 15));
            sketch.AddScore((float)rng.NextDouble());
        }
        return sketch;
    }
}
