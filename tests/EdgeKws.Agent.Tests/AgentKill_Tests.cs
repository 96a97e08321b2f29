using System.Diagnostics;
using System.Globalization;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Device.Tests.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Agent.Tests;

/// <summary>
/// The agent process itself SIGKILLed again and again while it writes to its outbox as fast as it can
/// (fast replay of a WAV with a keyword every 1.1 s, raw-audio clips, heartbeats and sketches; no broker,
/// so nothing is ever acknowledged and everything it enqueued must stay).
/// </summary>
public sealed class AgentKill_Tests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 22;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Keeps_every_enqueued_message_intact_when_the_agent_is_sigkilled_during_heavy_outbox_writes()
    {
        string wav = ListeningTestKit.WriteWav(_dir.File("heavy.wav"), ListeningTestKit.Synthesize(120, ListeningTestKit.Starts(100, first: 1.0, every: 1.1)));
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-kill", mqttPort: UplinkTestKit.FreePort(), heartbeatSeconds: 5,
            consent: true, quotaBytes: 1L << 30);
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var total = Stopwatch.StartNew();

        var reported = new Dictionary<long, OutboxMessageClass>(); // "E seq class": printed after Enqueue returned
        long highest = 0;
        int killsMidWrite = 0;
        for (int run = 0; run < Kills; run++)
        {
            using var agent = AgentProcess.Start(["--config", config, "--wav", wav, "--fast", "--model", AgentTestKit.Model,
                "--log-enqueues", "--quiet", "--drain-seconds", "0"]);
            if (run % 4 != 3)
            {
                // Land the kill inside the stream of writes: after a random number of enqueues, plus a random sub-write delay.
                int lines = random.Next(2, 60);
                Assert.True(agent.WaitForLines(lines, TimeSpan.FromSeconds(120)), // liveness: agent start under CI load
                    $"run {run}: agent reached {agent.LineCount}/{lines} lines. {agent.Stderr}");
                Thread.Sleep(random.Next(0, 8));
            }
            else
            {
                Thread.Sleep(random.Next(0, 900)); // anywhere from process start: runtime start, outbox open, WAL recovery
            }
            Assert.False(agent.HasExited, $"run {run}: the agent exited by itself ({(agent.HasExited ? agent.ExitCode : 0)}): {agent.Stderr}");
            agent.Signal("KILL");
            Assert.True(agent.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Equal(128 + 9, agent.ExitCode); // killed, not crashed

            long lastInRun = 0;
            foreach (string line in agent.Lines())
            {
                string[] f = line.Split(' ');
                Assert.True(f.Length == 3 && f[0] == "E", $"run {run}: unexpected agent output '{line}'");
                long seq = long.Parse(f[1], CultureInfo.InvariantCulture);
                Assert.True(seq > highest && seq > lastInRun, $"run {run}: sequence {seq} is not above {Math.Max(highest, lastInRun)} (reused after restart?)");
                reported.Add(seq, Enum.Parse<OutboxMessageClass>(f[2]));
                lastInRun = seq;
            }
            if (lastInRun > 0)
            {
                killsMidWrite++;
                highest = lastInRun;
            }
        }

        output.WriteLine($"{Kills} kills ({killsMidWrite} during writes), {reported.Count} enqueues reported "
            + $"({string.Join(", ", reported.Values.GroupBy(c => c).Select(g => $"{g.Count()} {g.Key}"))}), {total.Elapsed.TotalSeconds:F1} s");
        Assert.True(killsMidWrite >= Kills / 2, $"only {killsMidWrite} of {Kills} kills landed while the agent was writing");
        Assert.True(reported.Values.Count(c => c == OutboxMessageClass.ClipAudio) >= 20, "too few clip writes: the test exercised too little");

        using var store = OutboxStore.Open(new OutboxOptions { DatabasePath = Path.Combine(AgentTestKit.StatePath(_dir.Path), "outbox.db"), QuotaBytes = 1L << 30 });
        Assert.Null(store.CorruptionRecovery);
        Assert.Equal("ok", store.CheckIntegrity());
        Assert.Empty(Directory.GetFiles(AgentTestKit.StatePath(_dir.Path), "*.corrupt-*"));
        var stored = store.PeekAll().ToDictionary(m => m.Sequence);
        foreach ((long seq, OutboxMessageClass cls) in reported)
        {
            Assert.True(stored.TryGetValue(seq, out OutboxMessage? m), $"sequence {seq} ({cls}) was enqueued (the agent said so) but is lost");
            Assert.Equal(cls, m!.Class);
        }
        foreach (OutboxMessage m in stored.Values)
        {
            Assert.True(IsIntact(m, out string why), $"sequence {m.Sequence} ({m.Class}) is corrupt: {why}");
        }
        int unreported = stored.Keys.Count(k => !reported.ContainsKey(k));
        Assert.True(unreported <= Kills, $"{unreported} stored messages were never reported (at most one per kill can commit unreported)");
        // The run time is reported, not asserted: it is 22 agent start-ups on a shared machine, not a property of the agent.
        output.WriteLine($"{stored.Count} stored messages all parse and validate; {unreported} committed-but-unreported; {total.Elapsed.TotalSeconds:F1} s");
    }

    private static bool IsIntact(OutboxMessage m, out string why)
    {
        switch (m.Class)
        {
            case OutboxMessageClass.Detection:
                return WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.DetectionReport, out DetectionReport? d, out why) && d.TryValidate(out why);
            case OutboxMessageClass.Heartbeat:
                return WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? h, out why) && h.TryValidate(out why);
            case OutboxMessageClass.Sketch:
                return WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.DriftSketch, out DriftSketch? s, out why) && s.TryValidate(out why);
            case OutboxMessageClass.ClipAudio:
                return ClipAudio.TryReadHeader(m.Payload, out _, out why);
            case OutboxMessageClass.ClipFeatures:
                return ClipFeatures.TryReadHeader(m.Payload, out _, out why);
            default:
                why = $"the agent never writes class {m.Class}";
                return false;
        }
    }
}
