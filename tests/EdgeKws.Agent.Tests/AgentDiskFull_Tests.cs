using System.Globalization;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Device.Tests.Uplink;
using Xunit.Abstractions;

namespace EdgeKws.Agent.Tests;

/// <summary>
/// The disk-full drill with the real agent process: its state directory on an 8 MiB tmpfs (writes really fail with
/// ENOSPC), listening to a real-time replay with a keyword every 2 s, heartbeats every 5 s, the broker away. The disk
/// is filled while it runs; later the broker comes up, later still the space comes back. Everything the agent reported
/// stored ("E seq" lines) is delivered, in sequence order, or was evicted by the policy and counted; the log says when the
/// disk filled up and when space came back. Skipped, with the reason, only where a tmpfs cannot be mounted.
/// </summary>
public sealed class AgentDiskFull_Tests(ITestOutputHelper output) : IDisposable
{
    // Liveness only: an agent start (dotnet exec, JIT, model load) takes tens of seconds on a loaded CI machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public async Task Disk_full_with_the_gateway_away_then_gateway_back_delivers_everything_stored_in_order_and_recovers_when_space_returns()
    {
        SmallFilesystem? mounted = SmallFilesystem.TryMount(8L << 20, out string whyNot);
        Skip.If(mounted is null, $"needs a small real filesystem and this machine cannot mount one: {whyNot}");
        using SmallFilesystem fs = mounted!;
        string state = Path.Combine(fs.Path, "state");

        int port = UplinkTestKit.FreePort();
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-full", port, heartbeatSeconds: 5, quotaBytes: 1L << 20);
        string wav = ListeningTestKit.WriteWav(_dir.File("bursts.wav"), ListeningTestKit.Synthesize(240, ListeningTestKit.Starts(115, first: 1.5, every: 2.0)));
        using var agent = AgentProcess.Start(
            ["--config", config, "--wav", wav, "--model", AgentTestKit.Model, "--log-enqueues", "--drain-seconds", "60"],
            new Dictionary<string, string> { ["EDGEKWS_StateDirectory"] = state });

        // 1. Listening, storing, the gateway away.
        await UplinkTestKit.WaitUntilAsync(() => Stored(agent).Count >= 15 || agent.HasExited, Timeout, () => "nothing stored\n" + agent.Stderr);
        Assert.False(agent.HasExited, agent.Stderr);

        // 2. Something else fills the disk.
        long filler = fs.Fill();
        Assert.True(agent.WaitForStderr("outbox: the disk is full", Timeout), "the agent did not notice the full disk\n" + agent.Stderr);
        int atFull = Stored(agent).Count;
        // New messages are still stored, by evicting older ones by class (feature clips first).
        await UplinkTestKit.WaitUntilAsync(() => Stored(agent).Count >= atFull + 10, Timeout, () => "nothing stored on the full disk\n" + agent.Stderr);
        output.WriteLine($"filler {filler} B; {atFull} stored before the disk was full, {Stored(agent).Count} now; {fs.AvailableBytes} B free");

        // 3. The gateway comes back while the disk is still full: what is stored goes out.
        await using var broker = await EmbeddedBroker.StartAsync(port);
        await UplinkTestKit.WaitUntilAsync(() => broker.Accepted.Count >= 30, Timeout, () => $"{broker.Accepted.Count} delivered\n" + agent.Stderr);

        // 4. Space comes back: the agent notices on its own and stores without evicting again.
        fs.Unfill();
        Assert.True(agent.WaitForStderr("outbox: disk space is back", Timeout), "the agent did not notice the space\n" + agent.Stderr);
        int atBack = Stored(agent).Count;
        await UplinkTestKit.WaitUntilAsync(() => Stored(agent).Count >= atBack + 5, Timeout, () => "nothing stored after the space came back\n" + agent.Stderr);

        agent.Signal("TERM");
        Assert.True(agent.WaitForExit(Timeout), "agent did not stop\n" + agent.Stderr);
        output.WriteLine(agent.Stderr);
        Assert.Equal(0, agent.ExitCode);

        // Everything stored was delivered, in sequence order, or evicted by the policy (and counted); nothing else.
        List<long> stored = Stored(agent);
        List<long> delivered = [];
        foreach (long s in broker.Accepted)
        {
            if (delivered.Count == 0 || s > delivered[^1])
                delivered.Add(s); // a re-send after a reconnect repeats the last sequence, never goes back further
            else
                Assert.Equal(delivered[^1], s);
        }
        using var outbox = OutboxStore.Open(new OutboxOptions { DatabasePath = Path.Combine(state, "outbox.db"), QuotaBytes = 1L << 20 });
        OutboxStats stats = outbox.GetStats();
        Assert.Equal(0, stats.TotalCount); // drained before exit
        var storedSet = stored.ToHashSet();
        Assert.All(delivered, s => Assert.Contains(s, storedSet));
        long evicted = stats.PerClass.Sum(c => c.EvictedCount + c.ExpiredCount);
        // Every stored message not delivered was evicted and counted, class by class: nothing lost uncounted. Not an equality:
        // eviction may delete the one message the uplink has in flight, whose PUBACK then finds it gone (OutboxStore.Acknowledge,
        // docs/outbox.md) - the broker has it and the ledger counts it evicted too (seen once at load 7: 8 evicted, 5 undelivered).
        var deliveredSet = delivered.ToHashSet();
        foreach (var byClass in StoredWithClass(agent).GroupBy(m => m.Class))
        {
            int undelivered = byClass.Count(m => !deliveredSet.Contains(m.Sequence));
            OutboxClassStats counters = stats.PerClass.Single(c => c.Class.ToString() == byClass.Key);
            Assert.True(counters.EvictedCount + counters.ExpiredCount >= undelivered,
                $"{byClass.Key}: {undelivered} stored and not delivered, {counters.EvictedCount} evicted + {counters.ExpiredCount} expired");
        }
        Assert.True(evicted >= stored.Count - delivered.Count);
        Assert.Equal(0, stats.For(OutboxMessageClass.Detection).EvictedCount); // clips and sketches went first
        Assert.True(stats.For(OutboxMessageClass.ClipFeatures).EvictedCount + stats.For(OutboxMessageClass.Sketch).EvictedCount > 0);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stored {stored.Count}, delivered {delivered.Count}, evicted {evicted} " +
            $"({string.Join(", ", stats.PerClass.Where(c => c.EvictedCount > 0).Select(c => $"{c.Class} {c.EvictedCount}"))}), failed {stats.PerClass.Sum(c => c.FailedCount)}"));
    }

    /// <summary>Sequences and classes the agent reported stored ("E seq class" on stdout, printed after the commit).</summary>
    private static List<(long Sequence, string Class)> StoredWithClass(AgentProcess agent) =>
        [.. agent.Lines().Where(l => l.StartsWith("E ", StringComparison.Ordinal))
            .Select(l => l.Split(' '))
            .Select(p => (long.Parse(p[1], CultureInfo.InvariantCulture), p[2]))];

    /// <summary>Sequences the agent reported stored ("E seq class" on stdout, printed after the commit).</summary>
    private static List<long> Stored(AgentProcess agent) =>
        [.. agent.Lines().Where(l => l.StartsWith("E ", StringComparison.Ordinal)).Select(l => long.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture))];
}
