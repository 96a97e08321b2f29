using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeKws.Agent.Tests;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Gateway;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Rollout;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeKws.Rollout.Tests;

/// <summary>
/// A device that is away when its step comes up, with real parts: the whole gateway (embedded broker, SQLite, HTTP API, rollout
/// service) and a real agent process (edgekws-agent, A/B slots, pinned key, canaries, the committed tone1k model signed per test).
/// The agent is stopped (its clean shutdown publishes presence Offline), the rollout starts and waits; the agent is started
/// again (presence Online) and gets the offer then, installs it and confirms. And an offer lost with the agent (frozen, then
/// killed: the broker publishes its will) is sent again under a new transfer id when the agent is back. No training: the
/// packages go into the registry directly (registration is covered by <see cref="ModelLoopEndToEnd_Tests"/>).
/// </summary>
public sealed class OfflineRolloutEndToEnd_Tests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string DeviceId = "dev-sleepy";
    private const string Password = "offline-test-password";
    private const string NewVersion = "2.0.0";
    // Generous: a loaded 2-core CI machine starts a .NET process and an ONNX session in seconds, not minutes.
    private static readonly TimeSpan Liveness = TimeSpan.FromSeconds(240);
    private readonly TempDirectory _dir = new();
    private RolloutGateway _gateway = null!;
    private AgentModelUpdateKit _kit = null!;
    private IGatewayStore _store = null!;
    private string _config = null!;
    private string _wav = null!;

    public async Task InitializeAsync()
    {
        _gateway = await RolloutGateway.StartAsync(_dir,
        [
            "--Gateway:Models:Rollout:ConfirmTimeout=00:05:00",
            "--Gateway:Models:Rollout:SoakListeningHours=0",
        ], output, Liveness);
        _store = _gateway.App.Services.GetRequiredService<GatewayService>().Store;
        _store.SetDeviceCredential(DeviceId, PasswordHash.Create(Password, iterations: 1_000));

        string agentDir = _dir.File("agent");
        Directory.CreateDirectory(agentDir);
        _kit = new AgentModelUpdateKit(agentDir);
        _config = AgentTestKit.WriteConfig(agentDir, DeviceId, _gateway.BrokerPort, heartbeatSeconds: 5);
        _wav = ListeningTestKit.WriteWav(_dir.File("bursts.wav"), ListeningTestKit.Synthesize(240, ListeningTestKit.Starts(118, first: 1.0, every: 2.0)));
        // The seed is production; the update (same tone1k bytes, another version, signed with the same key) a gate-passed candidate.
        foreach ((string version, ModelStage stage) in new[] { (AgentModelUpdateKit.SeedVersion, ModelStage.Production), (NewVersion, ModelStage.Candidate) })
        {
            var (manifest, signature, model) = _kit.Signed(version);
            Assert.True(_store.TryAddRegisteredModel(Registered.Model(version, stage), new ModelPackage(manifest, signature, model), out string why), why);
        }
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null) await _gateway.DisposeAsync();
        _kit?.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_device_stopped_when_the_rollout_starts_waits_and_gets_the_model_when_its_agent_is_started_again()
    {
        var total = Stopwatch.StartNew();
        AgentProcess first = StartAgent(withSeed: true);
        await WaitAsync(() => Task.FromResult(Presence() is ("Online", AgentModelUpdateKit.SeedVersion)), "agent online with the seed");

        // A clean stop: the agent publishes presence Offline before it disconnects.
        first.Signal("TERM");
        Assert.True(first.WaitForExit(Liveness), first.Stderr);
        await WaitAsync(() => Task.FromResult(Presence().Status == "Offline"), "presence Offline");

        JsonElement started = await PostAsync("/api/rollouts", new { modelVersion = NewVersion, canaries = new[] { DeviceId }, waves = Array.Empty<string[]>() }, 201);
        long id = started.GetProperty("id").GetInt64();
        JsonElement d = started.GetProperty("devices")[0];
        Assert.Equal("WaitingOnline", d.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, d.GetProperty("transferId").ValueKind);
        Assert.Equal(1, started.GetProperty("waitingOnlineCount").GetInt32());
        // Ticks while it is away send nothing and do not halt.
        RolloutController controller = _gateway.App.Services.GetRequiredService<RolloutController>();
        await controller.TickAsync();
        await controller.TickAsync();
        JsonElement waiting = await GetAsync($"/api/rollouts/{id}");
        Assert.Equal("Running", waiting.GetProperty("state").GetString());
        Assert.Equal("WaitingOnline", waiting.GetProperty("devices")[0].GetProperty("state").GetString());

        DateTimeOffset restarted = DateTimeOffset.UtcNow;
        AgentProcess second = StartAgent(withSeed: false);
        JsonElement done = await _gateway.WaitForRolloutAsync(id, "Completed");
        d = done.GetProperty("devices")[0];
        Assert.Equal("Confirmed", d.GetProperty("state").GetString());
        Assert.Equal(NewVersion, d.GetProperty("reportedVersion").GetString());
        Assert.Equal(0, d.GetProperty("resends").GetInt32());
        Assert.True(d.GetProperty("sentUtc").GetDateTimeOffset() >= restarted.AddSeconds(-1), "the offer went before the agent was back: " + d);
        Assert.True(second.WaitForStderr("detector swapped: " + AgentModelUpdateKit.SeedVersion + " -> " + NewVersion, Liveness), second.Stderr);
        output.WriteLine($"total: {total.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task An_offer_lost_with_a_killed_agent_is_sent_again_with_a_new_transfer_id_when_the_agent_is_back()
    {
        AgentProcess first = StartAgent(withSeed: true);
        await WaitAsync(() => Task.FromResult(Presence() is ("Online", AgentModelUpdateKit.SeedVersion)), "agent online with the seed");

        // Frozen (SIGSTOP): still connected for the broker, so the offer goes out, but the agent reads none of it; then killed:
        // the unread commands die with its socket and the broker publishes its will (presence Offline).
        first.Signal("STOP");
        JsonElement started = await PostAsync("/api/rollouts", new { modelVersion = NewVersion, canaries = new[] { DeviceId }, waves = Array.Empty<string[]>() }, 201);
        long id = started.GetProperty("id").GetInt64();
        JsonElement d = started.GetProperty("devices")[0];
        Assert.Equal("Sent", d.GetProperty("state").GetString());
        string lost = d.GetProperty("transferId").GetString()!;
        first.Signal("KILL");
        Assert.True(first.WaitForExit(Liveness), "the killed agent did not exit");
        await WaitAsync(() => Task.FromResult(Presence().Status == "Offline"), "presence Offline (the will)");
        await WaitAsync(async () => (await GetAsync($"/api/rollouts/{id}")).GetProperty("devices")[0].GetProperty("state").GetString() == "WaitingOnline",
            "device WaitingOnline");

        AgentProcess second = StartAgent(withSeed: false);
        JsonElement done = await _gateway.WaitForRolloutAsync(id, "Completed");
        d = done.GetProperty("devices")[0];
        Assert.Equal("Confirmed", d.GetProperty("state").GetString());
        Assert.Equal(1, d.GetProperty("resends").GetInt32());
        string resent = d.GetProperty("transferId").GetString()!;
        Assert.NotEqual(lost, resent);
        Assert.True(second.WaitForStderr("detector swapped: " + AgentModelUpdateKit.SeedVersion + " -> " + NewVersion, Liveness), second.Stderr);
        Assert.Contains("offer accepted, transfer " + resent, second.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(lost, first.Stderr + second.Stderr, StringComparison.Ordinal);
    }

    private (string? Status, string? Version) Presence()
    {
        DeviceRecord? d = _store.ReadDevices().SingleOrDefault(x => x.DeviceId == DeviceId);
        return (d?.Status, d?.ModelVersion);
    }

    private AgentProcess StartAgent(bool withSeed)
    {
        List<string> args = ["--config", _config, "--wav", _wav, "--drain-seconds", "5"];
        if (withSeed) args.AddRange(["--model", _kit.SeedManifest]);
        AgentProcess agent = AgentProcess.Start(args, new Dictionary<string, string>
        {
            ["EDGEKWS_Mqtt__Username"] = DeviceId,
            ["EDGEKWS_Mqtt__Password"] = Password,
        });
        _gateway.Track(agent);
        Assert.True(agent.WaitForStderr("listening:", Liveness), agent.Stderr);
        return agent;
    }

    private Task WaitAsync(Func<Task<bool>> condition, string what, Func<string>? lastSeen = null) => _gateway.WaitAsync(condition, what, lastSeen);

    private Task<JsonElement> GetAsync(string path) => _gateway.GetAsync(path);

    private Task<JsonElement> PostAsync(string path, object body, int expected) => _gateway.PostAsync(path, body, expected);
}
