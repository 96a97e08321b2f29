using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EdgeKws.Detection;
using EdgeKws.Detection.Tests;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Signing;

namespace EdgeKws.Device.Tests.ModelUpdates;

/// <summary>
/// A device state directory for model-update tests: a fresh P-256 key pair (generated per test,
/// nothing committed), the public half pinned where the agent looks for it, the agent's canary files
/// for the test models' pattern, and signed updates built from the committed test models.
/// </summary>
internal sealed class ModelUpdateTestKit : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public ModelUpdateTestKit()
    {
        StateDirectory = Path.Combine(Path.GetTempPath(), "edgekws-slots-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(StateDirectory, "keys"));
        File.WriteAllText(Path.Combine(StateDirectory, "keys", "model-signing.pub.pem"), _key.ExportSubjectPublicKeyInfoPem());
        Assert.True(ManifestSigner.TryCreate(_key.ExportPkcs8PrivateKeyPem(), out var signer, out string reason), reason);
        Signer = signer!;

        // The canaries ship with the agent: a burst of high c1 in noise, and noise alone.
        string canaryDir = Path.Combine(StateDirectory, "canary");
        float[,] positive = DetectionFixtures.Noise(260, seed: 11);
        DetectionFixtures.AddBurst(positive, 110);
        ModelCanary.Write(Path.Combine(canaryDir, ModelCanary.PositiveFileName), Flatten(positive), DetectionFixtures.Coefficients, DetectionFixtures.FeatureConfigHash);
        ModelCanary.Write(Path.Combine(canaryDir, ModelCanary.NegativeFileName), Flatten(DetectionFixtures.Noise(300, seed: 12)),
            DetectionFixtures.Coefficients, DetectionFixtures.FeatureConfigHash);
    }

    public string StateDirectory { get; }
    public ManifestSigner Signer { get; }
    public string ModelsDirectory => Path.Combine(StateDirectory, "models");
    public string PointerPath => Path.Combine(ModelsDirectory, ModelSlots.ActivePointerFileName);

    public ModelSlotsOptions Options(long budgetBytes = KeywordModel.DefaultMaxModelBytes, ModelHealthCheckOptions? health = null) => new()
    {
        StateDirectory = StateDirectory,
        FeatureConfigHash = DetectionFixtures.FeatureConfigHash,
        ModelBudgetBytes = budgetBytes,
        HealthCheck = health ?? new ModelHealthCheckOptions(),
    };

    public ModelSlots Open(ModelSlotsOptions? options = null)
    {
        Assert.True(ModelSlots.TryOpen(options ?? Options(), out var slots, out string reason), reason);
        return slots!;
    }

    public static string Version(string variant) => $"0.1.0-test-{variant}";

    public static byte[] ModelBytes(string variant) =>
        File.ReadAllBytes(Path.Combine(DetectionFixtures.Folder, $"kws-test-{variant}.onnx"));

    /// <summary>
    /// The committed model of <paramref name="variant"/> (or <paramref name="model"/> in its place)
    /// with its manifest, sha256/sizeBytes recomputed for the model actually shipped, optionally
    /// edited, serialized to bytes and signed.
    /// </summary>
    public (byte[] Manifest, byte[] Signature, byte[] Model) Signed(string variant, Action<JsonObject>? edit = null, byte[]? model = null)
    {
        byte[] modelBytes = model ?? ModelBytes(variant);
        var json = JsonNode.Parse(File.ReadAllText(DetectionFixtures.ManifestPath(variant)))!.AsObject();
        json["sha256"] = Convert.ToHexStringLower(SHA256.HashData(modelBytes));
        json["sizeBytes"] = modelBytes.Length;
        edit?.Invoke(json);
        byte[] manifest = Encoding.UTF8.GetBytes(json.ToJsonString());
        return (manifest, Signer.Sign(manifest), modelBytes);
    }

    public ModelUpdate Update(string variant, Action<JsonObject>? edit = null, byte[]? model = null)
    {
        var (m, s, b) = Signed(variant, edit, model);
        return ModelUpdate.FromBytes(m, s, b);
    }

    /// <summary>
    /// The int8 test model with its keyword-channel bias patched from -45 to -180 hot frames (in the
    /// int32 bias initializer b2_q, a unique 8-byte pattern): it loads and runs like the original but
    /// its keyword posterior stays ~0, so it never fires. A real "deaf" model, for the health check.
    /// </summary>
    public static byte[] DeafInt8Model()
    {
        byte[] bytes = ModelBytes(DetectionFixtures.Int8);
        const int Bias = 45 * 127 * 6; // REQUIRED_HOT * 127 * WEIGHT_CODES_PER_UNIT in make_test_model.py
        Span<byte> pattern = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(pattern, Bias);
        BinaryPrimitives.WriteInt32LittleEndian(pattern[4..], -Bias);
        int at = bytes.AsSpan().IndexOf(pattern);
        Assert.True(at >= 0 && bytes.AsSpan(at + 1).IndexOf(pattern) < 0, "b2_q bias pattern not found exactly once in the int8 test model");
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at + 4), -4 * Bias);
        return bytes;
    }

    /// <summary>Noise with one keyword burst, run through the slots' active detector; returns the detections.</summary>
    public static List<DetectionEvent> RunPattern(ModelSlots slots, int seed = 5)
    {
        float[,] stream = DetectionFixtures.Noise(400, seed);
        DetectionFixtures.AddBurst(stream, 200);
        var events = new List<DetectionEvent>();
        var frame = new float[DetectionFixtures.Coefficients];
        for (int t = 0; t < stream.GetLength(0); t++)
        {
            for (int c = 0; c < frame.Length; c++) frame[c] = stream[t, c];
            if (slots.TryPushFrame(frame, out var e)) events.Add(e);
        }
        return events;
    }

    /// <summary>The observable proof that a model is running: it fires once on the pattern, with its version.</summary>
    public static void AssertRunsAndFires(ModelSlots slots, string expectedVersion)
    {
        Assert.Equal(expectedVersion, slots.ActiveModelVersion);
        var events = RunPattern(slots);
        Assert.Single(events);
        Assert.Equal(expectedVersion, events[0].ModelVersion);
    }

    public static float[] Flatten(float[,] m)
    {
        var flat = new float[m.Length];
        Buffer.BlockCopy(m, 0, flat, 0, m.Length * sizeof(float));
        return flat;
    }

    public void Dispose()
    {
        Signer.Dispose();
        _key.Dispose();
        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Temp folder; leaving it is harmless.
        }
    }
}

/// <summary>A clock the test moves by hand (TimeProvider is the injectable clock of .NET).</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private long _timestamp = 1_000_000;

    public override long GetTimestamp() => _timestamp;

    public void Advance(TimeSpan by) => _timestamp += (long)(by.TotalSeconds * TimestampFrequency);
}
