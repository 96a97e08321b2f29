using System.Globalization;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Device.Tests.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Agent.Tests;

/// <summary>The agent process end to end: exit codes, a broker, signals.</summary>
public sealed class AgentProcess_Tests(ITestOutputHelper output) : IDisposable
{
    // Liveness only: an agent start (dotnet exec, JIT, model load, broker connect) takes tens of seconds on a loaded CI machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Exits_with_code_2_naming_the_key_and_the_reason_for_a_bad_config_value()
    {
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-cfg", mqttPort: 70000);
        using var agent = AgentProcess.Start(["--config", config, "--model", AgentTestKit.Model]);
        Assert.True(agent.WaitForExit(Timeout));
        Assert.Equal(2, agent.ExitCode);
        Assert.Contains("Mqtt.Port: 70000 must be between 1 and 65535", agent.Stderr);
        Assert.False(Directory.Exists(AgentTestKit.StatePath(_dir.Path)), "nothing may start with a bad configuration");
    }

    [Fact]
    public void Exits_with_code_2_naming_the_environment_override_that_is_bad()
    {
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-cfg", mqttPort: 1883);
        using var agent = AgentProcess.Start(["--config", config, "--model", AgentTestKit.Model],
            new Dictionary<string, string> { ["EDGEKWS_Detection__PreTriggerMs"] = "lots" });
        Assert.True(agent.WaitForExit(Timeout));
        Assert.Equal(2, agent.ExitCode);
        Assert.Contains("Detection.PreTriggerMs (from environment EDGEKWS_Detection__PreTriggerMs): 'lots' is not a whole number", agent.Stderr);
    }

    [Fact]
    public void Exits_with_code_3_when_the_model_was_built_for_another_front_end()
    {
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-cfg", mqttPort: 1883);
        string testModelDir = Path.Combine(_dir.Path, "other-model");
        Directory.CreateDirectory(testModelDir);
        // The detector tests' model carries a stand-in feature hash, not the real front end's.
        string json = File.ReadAllText(AgentTestKit.Model).Replace(Shared.Features.MfccConfig.Default.FeatureConfigHash,
            new string('a', 64), StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(testModelDir, "m.manifest.json"), json);
        File.Copy(Path.Combine(Path.GetDirectoryName(AgentTestKit.Model)!, "kws-tone1k-int8.onnx"), Path.Combine(testModelDir, "kws-tone1k-int8.onnx"));
        using var agent = AgentProcess.Start(["--config", config, "--models-dir", testModelDir]);
        Assert.True(agent.WaitForExit(Timeout));
        Assert.Equal(3, agent.ExitCode);
        Assert.Contains("model refused", agent.Stderr);
        Assert.Contains("refusing a model that would see different features", agent.Stderr);
    }

    [Fact]
    public async Task Replays_a_wav_and_delivers_its_detections_to_an_embedded_broker()
    {
        double[] starts = [1.5, 4.2, 7.0, 9.9];
        string wav = ListeningTestKit.WriteWav(_dir.File("bursts.wav"), ListeningTestKit.Synthesize(12, starts));
        int port = UplinkTestKit.FreePort();
        await using var broker = await EmbeddedBroker.StartAsync(port);
        await using var subscriber = new RecordingSubscriber(port);
        await subscriber.ConnectAsync(Timeout);
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-e2e", port, heartbeatSeconds: 5);

        // The drain bound is liveness only (the agent exits as soon as its outbox is empty): on a loaded CI machine
        // connecting and delivering can take longer than a few seconds, and the summary must then show an empty outbox.
        using var agent = AgentProcess.Start(["--config", config, "--wav", wav, "--fast", "--model", AgentTestKit.Model, "--drain-seconds", "150"]);
        Assert.True(agent.WaitForExit(Timeout), "agent did not finish");
        output.WriteLine(agent.Stderr + agent.Stdout);
        Assert.Equal(0, agent.ExitCode);
        string summary = Assert.Single(agent.Lines(), l => l.StartsWith("summary:", StringComparison.Ordinal));
        Assert.Contains("detections=4 ", summary);
        Assert.Contains("outbox_depth=0 ", summary);
        Assert.Contains("end=source-ended", summary);

        await UplinkTestKit.WaitUntilAsync(() => subscriber.Messages.Count(m => m.Kind == "detection") >= 4, Timeout, () => "detections at the gateway");
        var reports = subscriber.Messages.Where(m => m.Kind == "detection")
            .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.DetectionReport, out DetectionReport? r, out _) ? r : null)
            .ToList();
        Assert.Equal(4, reports.Count);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(reports[i]!.TryValidate(out string why), why);
            Assert.Equal("dev-e2e", reports[i]!.DeviceId);
            Assert.InRange(reports[i]!.StreamOffsetMs - ((starts[i] + ListeningTestKit.BurstSeconds) * 1000), 0, 200);
        }
        Assert.Equal(4, subscriber.Messages.Count(m => m.Kind == "clip-features"));
        Assert.Equal(0, subscriber.Messages.Count(m => m.Kind == "clip-audio"));
        Assert.True(subscriber.Messages.Count(m => m.Kind == "heartbeat") >= 2);
        UplinkTestKit.AssertCompleteInOrder(subscriber.Sequences, subscriber.DistinctSequenceCount);
    }

    [Fact]
    public void Stops_gracefully_on_sigterm_with_a_final_heartbeat_and_a_clean_outbox()
    {
        string wav = ListeningTestKit.WriteWav(_dir.File("long.wav"), ListeningTestKit.Synthesize(60, [1.0]));
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-term", mqttPort: UplinkTestKit.FreePort(), heartbeatSeconds: 600);

        using var agent = AgentProcess.Start(["--config", config, "--wav", wav, "--model", AgentTestKit.Model, "--drain-seconds", "0"]);
        Assert.True(agent.WaitForStderr("listening:", Timeout), agent.Stderr);
        Assert.True(agent.WaitForLines(1, Timeout), "the burst at 1.0 s was not detected in real time: " + agent.Stderr);
        Thread.Sleep(500);
        agent.Signal("TERM");
        Assert.True(agent.WaitForExit(Timeout), "agent did not stop on SIGTERM");

        Assert.Equal(0, agent.ExitCode);
        string summary = Assert.Single(agent.Lines(), l => l.StartsWith("summary:", StringComparison.Ordinal));
        Assert.Contains("end=stopped", summary);
        using var store = OutboxStore.Open(new OutboxOptions { DatabasePath = Path.Combine(AgentTestKit.StatePath(_dir.Path), "outbox.db") });
        Assert.Equal("ok", store.CheckIntegrity());
        var all = store.PeekAll();
        Assert.Single(all, m => m.Class == OutboxMessageClass.Detection);
        Assert.Single(all, m => m.Class == OutboxMessageClass.ClipFeatures); // the clip was complete before the stop
        OutboxMessage hb = Assert.Single(all, m => m.Class == OutboxMessageClass.Heartbeat);
        Assert.True(WireJson.TryDeserialize(hb.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? heartbeat, out string why), why);
        Assert.True(heartbeat.TryValidate(out why), why);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final heartbeat: listening {heartbeat.ListeningSeconds:F2} s of {heartbeat.IntervalSeconds:F2} s, {heartbeat.Detections} detection(s)"));
        Assert.InRange(heartbeat.ListeningSeconds, 1.5, 20);
        Assert.Equal(1, heartbeat.Detections);
    }
}

/// <summary>The agent capturing through real ALSA calls from the file-plugin fake microphone.</summary>
public sealed class AgentAlsa_Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Captures_from_an_alsa_fake_microphone_and_detects_its_bursts_at_their_times()
    {
        double[] starts = [1.0, 3.5, 6.0];
        short[] audio = ListeningTestKit.Synthesize(8, starts);
        string raw = _dir.File("mic.raw");
        File.WriteAllBytes(raw, System.Runtime.InteropServices.MemoryMarshal.AsBytes(audio.AsSpan()).ToArray());
        string template = File.ReadAllText(RepositoryRoot.File("hardware/alsa/fakemic.conf"));
        string alsaConf = _dir.File("fakemic.conf");
        File.WriteAllText(alsaConf, template.Replace("@PCM_NAME@", "fakemic_agent").Replace("@INFILE@", raw));
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-alsa", mqttPort: UplinkTestKit.FreePort());
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"Source\": \"wav\"", "\"Source\": \"alsa\", \"AlsaDevice\": \"fakemic_agent\"", StringComparison.Ordinal));

        // The file plugin has no clock: it delivers the infile as fast as it is read, then silence. The agent is
        // stopped (SIGTERM, graceful) once it has reported the bursts: a fixed wall-clock --duration counts from
        // process start, and on a loaded CI machine start-up, JIT and model load alone can use it up before the
        // 8 s of audio were read. --duration stays as a liveness bound only.
        using var agent = AgentProcess.Start(["--config", config, "--model", AgentTestKit.Model, "--duration", "180", "--drain-seconds", "0"],
            new Dictionary<string, string> { ["ALSA_CONFIG_PATH"] = $"/usr/share/alsa/alsa.conf:{alsaConf}" });
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (agent.Lines().Count(l => l.StartsWith("detection:", StringComparison.Ordinal)) < starts.Length
               && !agent.HasExited && waited.Elapsed < TimeSpan.FromSeconds(180))
        {
            Thread.Sleep(50);
        }
        // The audio after the last burst is silence: a detection that should not be there still shows up by now.
        Thread.Sleep(300);
        if (!agent.HasExited)
        {
            agent.Signal("TERM");
        }
        Assert.True(agent.WaitForExit(TimeSpan.FromSeconds(180)));

        Assert.True(agent.ExitCode == 0, agent.Stderr);
        Assert.Contains("source alsa:fakemic_agent", agent.Stderr);
        var ends = agent.Lines().Where(l => l.StartsWith("detection:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ')[1]["end_s=".Length..], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(starts.Length, ends.Count);
        for (int i = 0; i < starts.Length; i++)
        {
            Assert.InRange(ends[i] - (starts[i] + ListeningTestKit.BurstSeconds), 0.0, 0.2);
        }
        Assert.Contains("end=stopped", Assert.Single(agent.Lines(), l => l.StartsWith("summary:", StringComparison.Ordinal)));
    }
}
