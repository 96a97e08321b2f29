using System.Globalization;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Device.Tests.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Agent.Tests;

/// <summary>
/// Model updates through the real agent process: signed updates sent over MQTT to an embedded broker,
/// A/B slots on disk, the detector swapped under live (real-time replayed) audio, ModelStatus back
/// through the outbox and the uplink. "Detects with version X" is read from the agent's detection lines.
/// </summary>
public sealed class AgentModelUpdate_Tests(ITestOutputHelper output) : IDisposable
{
    private const string DeviceId = "dev-models";
    private const string NewVersion = "2.0.0-update";
    // Liveness only: an agent start (dotnet exec, JIT, model load, broker connect) takes tens of seconds on a loaded CI machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Installs_a_signed_update_sent_over_mqtt_detects_with_its_version_and_keeps_it_after_a_restart()
    {
        await using var rig = await Rig.StartAsync(_dir, output);

        ModelStatus boot = await rig.WaitForStatusAsync(s => s.UpdateResult == ModelUpdateResult.None);
        Assert.Equal(ModelSlot.A, boot.ActiveSlot);
        Assert.Equal(AgentModelUpdateKit.SeedVersion, boot.ActiveModelVersion);
        rig.WaitForDetection(AgentModelUpdateKit.SeedVersion, after: 0);

        var (manifest, signature, model) = rig.Kit.Signed(NewVersion);
        await rig.Sender.SendUpdateAsync(manifest, signature, model);
        ModelStatus installed = await rig.WaitForStatusAsync(s => s.UpdateResult != ModelUpdateResult.None);
        Assert.Equal(ModelUpdateResult.Activated, installed.UpdateResult);
        Assert.Equal(ModelSlot.B, installed.ActiveSlot);
        Assert.Equal(NewVersion, installed.ActiveModelVersion);
        Assert.Equal(NewVersion, installed.TargetModelVersion);
        int linesAtInstall = rig.Agent.LineCount;
        rig.WaitForDetection(NewVersion, after: linesAtInstall);
        rig.StopAgent();
        Assert.Contains("detector swapped: " + AgentModelUpdateKit.SeedVersion + " -> " + NewVersion, rig.Agent.Stderr);

        // Restart without --model: the slots decide, slot B (the update) runs.
        rig.StartAgent(withSeed: false);
        Assert.True(rig.Agent.WaitForStderr("slot B active: model " + NewVersion + " verified", Timeout), rig.Agent.Stderr);
        ModelStatus restarted = await rig.WaitForStatusAsync(s => s.UpdateResult == ModelUpdateResult.None, skip: 1);
        Assert.Equal(ModelSlot.B, restarted.ActiveSlot);
        Assert.Equal(NewVersion, restarted.ActiveModelVersion);
        rig.WaitForDetection(NewVersion, after: 0);
        rig.StopAgent();
    }

    [Fact]
    public async Task Refuses_tampered_unsigned_foreign_config_and_oversize_updates_and_the_old_model_keeps_detecting()
    {
        await using var rig = await Rig.StartAsync(_dir, output);
        await rig.WaitForStatusAsync(s => s.UpdateResult == ModelUpdateResult.None);
        string pointer = File.ReadAllText(Path.Combine(AgentTestKit.StatePath(_dir.Path), "models", "active"));

        byte[] tamperedModel = AgentModelUpdateKit.FixtureModel();
        tamperedModel[tamperedModel.Length / 2] ^= 0x01;
        var good = rig.Kit.Signed("3.0.0-tampered");
        var (unsignedManifest, _, unsignedModel) = rig.Kit.Signed("3.0.0-unsigned");
        var foreign = rig.Kit.Signed("3.0.0-foreign", j => j["featureConfigHash"] = new string('a', 64));
        byte[] big = new byte[70 * 1024];
        AgentModelUpdateKit.FixtureModel().CopyTo(big, 0);
        var oversize = rig.Kit.Signed("3.0.0-oversize", model: big);

        var cases = new (string Name, byte[] Manifest, byte[] Signature, byte[] Model, ModelUpdateResult Result, string Code)[]
        {
            // The signed manifest names the original bytes; one flipped bit in the shipped model.
            ("tampered", good.Manifest, good.Signature, tamperedModel, ModelUpdateResult.RejectedSignature, "model-digest-mismatch"),
            // No signature at all: 64 zero bytes where the signature goes.
            ("unsigned", unsignedManifest, new byte[64], unsignedModel, ModelUpdateResult.RejectedSignature, "signature-invalid"),
            ("wrong config hash", foreign.Manifest, foreign.Signature, foreign.Model, ModelUpdateResult.RejectedHealthCheck, "feature-config-mismatch"),
            ("oversize", oversize.Manifest, oversize.Signature, oversize.Model, ModelUpdateResult.RejectedHealthCheck, "over-budget"),
        };
        int seen = 0;
        foreach (var c in cases)
        {
            await rig.Sender.SendUpdateAsync(c.Manifest, c.Signature, c.Model, chunkSizeBytes: c.Model.Length > 4096 ? 16384 : 400);
            ModelStatus refused = await rig.WaitForStatusAsync(s => s.UpdateResult != ModelUpdateResult.None, skip: seen);
            seen++;
            output.WriteLine($"{c.Name}: {refused.UpdateResult} {refused.Reason}");
            Assert.Equal(c.Result, refused.UpdateResult);
            Assert.StartsWith(c.Code + ": ", refused.Reason, StringComparison.Ordinal);
            Assert.Equal(ModelSlot.A, refused.ActiveSlot);
            Assert.Equal(AgentModelUpdateKit.SeedVersion, refused.ActiveModelVersion);
            // A detection after the refusal still comes from the old model.
            rig.WaitForDetection(AgentModelUpdateKit.SeedVersion, after: rig.Agent.LineCount);
        }
        rig.StopAgent();
        Assert.Equal(pointer, File.ReadAllText(Path.Combine(AgentTestKit.StatePath(_dir.Path), "models", "active")));
        Assert.DoesNotContain("detector swapped", rig.Agent.Stderr);
    }

    [Fact]
    public async Task Rolls_back_to_the_previous_model_on_the_rollback_command()
    {
        await using var rig = await Rig.StartAsync(_dir, output);
        await rig.WaitForStatusAsync(s => s.UpdateResult == ModelUpdateResult.None);
        var (manifest, signature, model) = rig.Kit.Signed(NewVersion);
        await rig.Sender.SendUpdateAsync(manifest, signature, model);
        Assert.Equal(ModelUpdateResult.Activated, (await rig.WaitForStatusAsync(s => s.UpdateResult != ModelUpdateResult.None)).UpdateResult);
        rig.WaitForDetection(NewVersion, after: rig.Agent.LineCount);

        await rig.Sender.SendRollbackAsync();
        ModelStatus rolled = await rig.WaitForStatusAsync(s => s.UpdateResult != ModelUpdateResult.None, skip: 1);
        Assert.Equal(ModelUpdateResult.RolledBack, rolled.UpdateResult);
        Assert.Equal(ModelSlot.A, rolled.ActiveSlot);
        Assert.Equal(AgentModelUpdateKit.SeedVersion, rolled.ActiveModelVersion);
        Assert.StartsWith("rolled-back: ", rolled.Reason, StringComparison.Ordinal);
        rig.WaitForDetection(AgentModelUpdateKit.SeedVersion, after: rig.Agent.LineCount);
        rig.StopAgent();
        Assert.Equal("active=A\nprevious=B\n", File.ReadAllText(Path.Combine(AgentTestKit.StatePath(_dir.Path), "models", "active")));
    }

    [Fact]
    public void Exits_with_code_2_naming_Models_PublicKeyPath_when_the_pinned_key_is_missing_or_not_a_public_key()
    {
        string config = AgentTestKit.WriteConfig(_dir.Path, DeviceId, UplinkTestKit.FreePort());
        using var missing = AgentProcess.Start(["--config", config, "--model", AgentTestKit.Model],
            new Dictionary<string, string> { ["EDGEKWS_Models__PublicKeyPath"] = _dir.File("nope.pem") });
        Assert.True(missing.WaitForExit(Timeout));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("configuration error: Models.PublicKeyPath: file ", missing.Stderr);
        Assert.Contains("does not exist", missing.Stderr);

        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        File.WriteAllText(_dir.File("private.pem"), key.ExportPkcs8PrivateKeyPem());
        using var wrong = AgentProcess.Start(["--config", config, "--model", AgentTestKit.Model],
            new Dictionary<string, string> { ["EDGEKWS_Models__PublicKeyPath"] = _dir.File("private.pem") });
        Assert.True(wrong.WaitForExit(Timeout));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("configuration error: Models.PublicKeyPath: ", wrong.Stderr);
        Assert.Contains("expected 'PUBLIC KEY'", wrong.Stderr);
    }

    [Fact]
    public void Exits_with_code_3_when_the_slots_are_empty_and_the_seed_model_is_unsigned()
    {
        using var kit = new AgentModelUpdateKit(_dir.Path);
        string config = AgentTestKit.WriteConfig(_dir.Path, DeviceId, UplinkTestKit.FreePort());
        using var agent = AgentProcess.Start(["--config", config, "--model", AgentTestKit.Model]);
        Assert.True(agent.WaitForExit(Timeout));
        output.WriteLine(agent.Stderr);
        Assert.Equal(3, agent.ExitCode);
        Assert.Contains("has no signature", agent.Stderr);
        Assert.False(File.Exists(Path.Combine(AgentTestKit.StatePath(_dir.Path), "models", "active")));
    }

    /// <summary>Broker, gateway-side subscriber and command sender, key/canaries/seed, and the agent on a long real-time WAV with a burst every 2 s.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly TempDirectory _dir;
        private readonly ITestOutputHelper _output;
        private readonly string _config;
        private readonly string _wav;
        private EmbeddedBroker _broker = null!;

        private Rig(TempDirectory dir, ITestOutputHelper output, int port)
        {
            _dir = dir;
            _output = output;
            Port = port;
            Kit = new AgentModelUpdateKit(dir.Path);
            _config = AgentTestKit.WriteConfig(dir.Path, DeviceId, port, heartbeatSeconds: 600);
            _wav = ListeningTestKit.WriteWav(dir.File("bursts.wav"), ListeningTestKit.Synthesize(240, ListeningTestKit.Starts(118, first: 1.0, every: 2.0)));
        }

        public int Port { get; }
        public AgentModelUpdateKit Kit { get; }
        public RecordingSubscriber Subscriber { get; private set; } = null!;
        public ModelCommandSender Sender { get; private set; } = null!;
        public AgentProcess Agent { get; private set; } = null!;

        public static async Task<Rig> StartAsync(TempDirectory dir, ITestOutputHelper output)
        {
            var rig = new Rig(dir, output, UplinkTestKit.FreePort());
            rig._broker = await EmbeddedBroker.StartAsync(rig.Port);
            rig.Subscriber = new RecordingSubscriber(rig.Port, filter: Topics.Uplink(DeviceId, MessageKind.ModelStatus));
            await rig.Subscriber.ConnectAsync(Timeout);
            rig.Sender = await ModelCommandSender.ConnectAsync(rig.Port, DeviceId);
            rig.StartAgent(withSeed: true);
            return rig;
        }

        public void StartAgent(bool withSeed)
        {
            List<string> args = ["--config", _config, "--wav", _wav, "--drain-seconds", "10"];
            if (withSeed) args.AddRange(["--model", Kit.SeedManifest]);
            Agent = AgentProcess.Start(args);
            // Tests wait for the agent's start-up model status before sending commands: it is published
            // after the command subscription, so no command is sent before the device has a session.
            Assert.True(Agent.WaitForStderr("listening:", Timeout), Agent.Stderr);
        }

        public void StopAgent()
        {
            Agent.Signal("TERM");
            Assert.True(Agent.WaitForExit(Timeout), "agent did not stop on SIGTERM");
            _output.WriteLine(Agent.Stderr + Agent.Stdout);
            Assert.Equal(0, Agent.ExitCode);
        }

        /// <summary>The (<paramref name="skip"/>+1)-th model status matching <paramref name="match"/>, in arrival order, validated.</summary>
        public async Task<ModelStatus> WaitForStatusAsync(Func<ModelStatus, bool> match, int skip = 0)
        {
            List<ModelStatus> Matching() => Subscriber.Messages
                .DistinctBy(m => m.Sequence) // QoS 1: a re-sent status is the same outbox sequence
                .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.ModelStatus, out ModelStatus? s, out _) ? s : null)
                .Where(s => s is not null && match(s)).Select(s => s!).ToList();
            await UplinkTestKit.WaitUntilAsync(() => Matching().Count > skip, Timeout, () => "model status at the gateway; agent log:\n" + Agent.Stderr);
            ModelStatus status = Matching()[skip];
            Assert.True(status.TryValidate(out string why), why);
            Assert.Equal(DeviceId, status.DeviceId);
            return status;
        }

        /// <summary>Waits for a detection line after stdout line <paramref name="after"/>; the first such detection must carry <paramref name="version"/>.</summary>
        public void WaitForDetection(string version, int after)
        {
            string? Next() => Agent.Lines().Skip(after).FirstOrDefault(l => l.StartsWith("detection:", StringComparison.Ordinal));
            Assert.True(WaitUntil(() => Next() is not null, Timeout), "no detection after line " + after.ToString(CultureInfo.InvariantCulture) + ": " + Agent.Stderr);
            Assert.EndsWith("model=" + version, Next()!.Split(' ').First(t => t.StartsWith("model=", StringComparison.Ordinal)), StringComparison.Ordinal);
        }

        private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (!condition())
            {
                if (sw.Elapsed > timeout) return false;
                Thread.Sleep(50);
            }
            return true;
        }

        public async ValueTask DisposeAsync()
        {
            if (Agent is { HasExited: false })
            {
                Agent.Signal("KILL");
                Agent.WaitForExit(TimeSpan.FromSeconds(10));
            }
            Agent?.Dispose();
            await Sender.DisposeAsync();
            await Subscriber.DisposeAsync();
            await _broker.DisposeAsync();
            Kit.Dispose();
        }
    }
}
