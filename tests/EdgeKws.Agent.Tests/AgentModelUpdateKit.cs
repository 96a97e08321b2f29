using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Signing;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Agent.Tests;

/// <summary>
/// A device state directory with model updates on: a fresh P-256 key pair per test (public half
/// pinned at {state}/keys/model-signing.pub.pem, nothing committed), the canaries made by running
/// 1 kHz-burst audio and plain noise through the real MFCC front end, and a signed seed model (the
/// committed tone1k model with its own version) to start the agent with. Updates are the same model
/// bytes re-emitted with another version in a freshly signed manifest.
/// </summary>
internal sealed class AgentModelUpdateKit : IDisposable
{
    public const string SeedVersion = "1.0.0-seed";

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public AgentModelUpdateKit(string dir)
    {
        Directory = dir;
        string state = AgentTestKit.StatePath(dir);
        System.IO.Directory.CreateDirectory(Path.Combine(state, "keys"));
        File.WriteAllText(Path.Combine(state, "keys", "model-signing.pub.pem"), _key.ExportSubjectPublicKeyInfoPem());
        Assert.True(ManifestSigner.TryCreate(_key.ExportPkcs8PrivateKeyPem(), out var signer, out string reason), reason);
        Signer = signer!;

        // The canaries ship with the agent: the keyword (a 1 kHz burst in noise) and noise alone, as MFCCs of the real front end.
        MfccConfig mfcc = MfccConfig.Default;
        WriteCanary(Path.Combine(state, "canary", ModelCanary.PositiveFileName), ListeningTestKit.Synthesize(3.0, [1.0], seed: 21), mfcc);
        WriteCanary(Path.Combine(state, "canary", ModelCanary.NegativeFileName), ListeningTestKit.Synthesize(3.0, [], seed: 22), mfcc);

        // The seed: manifest + detached signature + model, as a factory image would carry them.
        string seedDir = Path.Combine(dir, "seed");
        System.IO.Directory.CreateDirectory(seedDir);
        var (manifest, signature, model) = Signed(SeedVersion);
        SeedManifest = Path.Combine(seedDir, "seed.manifest.json");
        File.WriteAllBytes(SeedManifest, manifest);
        File.WriteAllBytes(SeedManifest + ".sig", signature);
        File.WriteAllBytes(Path.Combine(seedDir, "kws-tone1k-int8.onnx"), model);
    }

    public string Directory { get; }
    public ManifestSigner Signer { get; }
    public string SeedManifest { get; }

    public static byte[] FixtureModel() =>
        File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(ListeningTestKit.ModelManifest)!, "kws-tone1k-int8.onnx"));

    /// <summary>The committed tone1k model (or <paramref name="model"/>) with a manifest naming <paramref name="version"/>, optionally edited, signed.</summary>
    public (byte[] Manifest, byte[] Signature, byte[] Model) Signed(string version, Action<JsonObject>? edit = null, byte[]? model = null)
    {
        byte[] modelBytes = model ?? FixtureModel();
        var json = JsonNode.Parse(File.ReadAllText(ListeningTestKit.ModelManifest))!.AsObject();
        json["modelVersion"] = version;
        json["sha256"] = Convert.ToHexStringLower(SHA256.HashData(modelBytes));
        json["sizeBytes"] = modelBytes.Length;
        edit?.Invoke(json);
        byte[] manifest = Encoding.UTF8.GetBytes(json.ToJsonString());
        return (manifest, Signer.Sign(manifest), modelBytes);
    }

    private static void WriteCanary(string path, short[] audio, MfccConfig mfcc)
    {
        var extractor = new MfccExtractor(mfcc);
        var rows = new float[(mfcc.FrameCount(audio.Length) + 1) * mfcc.CoefficientCount];
        int frames = extractor.Push(audio, rows);
        ModelCanary.Write(path, rows.AsSpan(0, frames * mfcc.CoefficientCount).ToArray(), mfcc.CoefficientCount, mfcc.FeatureConfigHash);
    }

    public void Dispose()
    {
        Signer.Dispose();
        _key.Dispose();
    }
}

/// <summary>The gateway's side of a model update: publishes offer, chunks and rollback on the device's command topics (QoS 1).</summary>
internal sealed class ModelCommandSender : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly string _deviceId;

    private ModelCommandSender(string deviceId) => _deviceId = deviceId;

    public static async Task<ModelCommandSender> ConnectAsync(int port, string deviceId)
    {
        var sender = new ModelCommandSender(deviceId);
        await sender._client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId("gateway-models")
            .WithTimeout(TimeSpan.FromSeconds(60)) // liveness only: a PUBACK can be seconds late on a loaded CI machine
            .Build());
        return sender;
    }

    public async Task SendUpdateAsync(byte[] manifest, byte[] signature, byte[] model, int chunkSizeBytes = 400)
    {
        var id = Guid.NewGuid();
        int count = ModelTransfer.GetChunkCount(model.Length, chunkSizeBytes);
        var offer = new ModelOffer { TransferId = id, Manifest = manifest, Signature = signature, ChunkCount = count, ChunkSizeBytes = chunkSizeBytes };
        await PublishAsync(ModelTransfer.OfferCommand, offer.Serialize());
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> payload = model.AsSpan(i * chunkSizeBytes, Math.Min(chunkSizeBytes, model.Length - (i * chunkSizeBytes)));
            var frame = new byte[ModelChunk.GetFrameSizeBytes(payload.Length)];
            ModelChunk.Write(frame, id, i, count, payload);
            await PublishAsync(ModelTransfer.ChunkCommand, frame);
        }
    }

    public Task SendRollbackAsync() => PublishAsync(ModelTransfer.RollbackCommand, []);

    private async Task PublishAsync(string command, byte[] payload)
    {
        MqttClientPublishResult r = await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Command(_deviceId, command))
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        // No subscriber yet is fine for the broker (0x10); anything else is a test failure.
        Assert.True(r.IsSuccess || r.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers,
            string.Create(CultureInfo.InvariantCulture, $"publish {command}: {r.ReasonCode}"));
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected) await _client.DisconnectAsync();
        _client.Dispose();
    }
}
