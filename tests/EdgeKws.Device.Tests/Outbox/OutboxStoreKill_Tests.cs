using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.OutboxStress;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Outbox;

/// <summary>
/// Runs the real store in a child process (tools/stress/EdgeKws.Device.OutboxStress), SIGKILLs it at random
/// moments again and again, and checks after every restart and at the end that nothing the child
/// was told is durable went missing, nothing was duplicated, and the file never needed recovery.
/// </summary>
public sealed class OutboxStoreKill_Tests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 24;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Keeps_every_enqueued_unacked_message_exactly_once_when_killed_repeatedly()
    {
        string db = _dir.File("outbox.db");
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var total = Stopwatch.StartNew();

        var enqueued = new Dictionary<long, string>(); // seq -> payload tag, reported after Enqueue returned
        var ackIntent = new HashSet<long>();           // "about to acknowledge": may or may not be gone
        var acked = new HashSet<long>();               // Acknowledge returned: must be gone
        long highestReported = 0;
        int killsMidRun = 0;

        for (int run = 0; run < Kills; run++)
        {
            using var child = StartChild(db, random.Next());
            var reader = new ChildOutput(child);

            // Most kills land at a random moment after the store is open (mid-enqueue/peek/ack);
            // every fourth at a random moment from process start (runtime start, open, WAL recovery).
            if (run % 4 != 3)
            {
                // A random point in the child's stream of operations (so the kill lands mid-work however
                // fast fsync is on this machine), plus a random sub-operation delay.
                int lines = 1 + random.Next(1, 80);
                Assert.True(reader.WaitForLines(lines, TimeSpan.FromSeconds(120)), // liveness only
                    $"run {run}: child did not reach {lines} output lines. stderr: {reader.Errors()}");
                Thread.Sleep(random.Next(0, 10));
            }
            else
            {
                Thread.Sleep(random.Next(0, 500));
            }

            if (child.HasExited)
                Assert.Fail($"run {run}: child exited by itself with code {child.ExitCode}: {reader.Text()} {reader.Errors()}");
            child.Kill();
            child.WaitForExit();
            Assert.Equal(128 + 9, child.ExitCode); // killed by SIGKILL, not a crash of its own
            reader.WaitForEnd();

            long previousRunHighest = highestReported;
            long lastInRun = 0;
            foreach (string line in reader.CompleteLines())
            {
                string[] f = line.Split(' ');
                switch (f[0])
                {
                    case "O":
                        Assert.True(long.Parse(f[1], CultureInfo.InvariantCulture) > previousRunHighest,
                            $"run {run}: reopened with next sequence {f[1]}, not above {previousRunHighest} already handed out");
                        Assert.True(f[2] == "0", $"run {run}: the store needed corruption recovery after a kill");
                        break;
                    case "R":
                        Assert.Fail($"run {run}: corruption recovery after a kill: {line}");
                        break;
                    case "E":
                        long seq = long.Parse(f[1], CultureInfo.InvariantCulture);
                        Assert.True(seq > lastInRun && seq > previousRunHighest, $"run {run}: sequence {seq} repeated or went backwards");
                        Assert.True(enqueued.TryAdd(seq, f[2]), $"sequence {seq} reported twice");
                        lastInRun = seq;
                        highestReported = Math.Max(highestReported, seq);
                        break;
                    case "a":
                        ackIntent.Add(long.Parse(f[1], CultureInfo.InvariantCulture));
                        break;
                    case "A":
                        acked.Add(long.Parse(f[1], CultureInfo.InvariantCulture));
                        break;
                    default:
                        Assert.Fail($"run {run}: unexpected child output '{line}'");
                        break;
                }
            }

            if (lastInRun > 0)
                killsMidRun++;
        }

        output.WriteLine($"{Kills} kills ({killsMidRun} after at least one enqueue), {enqueued.Count} enqueues reported, {acked.Count} acks, {total.Elapsed.TotalSeconds:F1} s");
        Assert.True(killsMidRun >= Kills / 2, $"only {killsMidRun} of {Kills} kills happened while the child was enqueuing");
        Assert.True(enqueued.Count >= 100, $"only {enqueued.Count} enqueues in all runs: the test exercised too little");

        using var store = OutboxStore.Open(new OutboxOptions { DatabasePath = db, QuotaBytes = 1L << 30 });
        Assert.Null(store.CorruptionRecovery);
        Assert.Equal("ok", store.CheckIntegrity());
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.corrupt-*"));

        var stored = store.PeekAll();
        var storedBySeq = new Dictionary<long, OutboxMessage>();
        foreach (var m in stored)
        {
            Assert.True(storedBySeq.TryAdd(m.Sequence, m), $"sequence {m.Sequence} stored twice");
            Assert.True(StressPayload.TryVerify(m.Payload, out string problem), $"sequence {m.Sequence}: {problem}");
            Assert.Equal($"edgekws/stress/{m.Class}", m.Topic);
        }

        int expectedPresent = 0;
        foreach (var (seq, tag) in enqueued)
        {
            if (acked.Contains(seq))
            {
                Assert.False(storedBySeq.ContainsKey(seq), $"sequence {seq} was acknowledged but is still stored");
            }
            else if (!ackIntent.Contains(seq))
            {
                Assert.True(storedBySeq.TryGetValue(seq, out var m), $"sequence {seq} was enqueued (Enqueue returned) but is lost");
                Assert.Equal(tag, StressPayload.Tag(m!.Payload));
                expectedPresent++;
            }
        }

        // Rows nobody was told about: an enqueue that committed just before the kill, at most one per run.
        int unreported = stored.Count(m => !enqueued.ContainsKey(m.Sequence));
        Assert.True(unreported <= Kills, $"{unreported} stored messages were never reported by the child");
        output.WriteLine($"{expectedPresent} messages checked present with their payload, {unreported} committed-but-unreported");

        long highestStored = stored.Count == 0 ? 0 : stored[^1].Sequence;
        long next = store.Enqueue(OutboxMessageClass.Detection, "edgekws/stress/after", [1, 2, 3]).Sequence;
        Assert.True(next > Math.Max(highestReported, highestStored), $"sequence {next} after reopen is not above {highestReported}");
        // The run time is reported, not asserted: it is child start-ups on a shared machine, not a property of the store.
        output.WriteLine($"{Kills} kills in {total.Elapsed.TotalSeconds:F1} s");
    }

    private static Process StartChild(string db, int seed)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "EdgeKws.Device.OutboxStress.dll");
        Assert.True(File.Exists(dll), $"stress child not built next to the tests: {dll}");
        var psi = new ProcessStartInfo(ChildProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("stress");
        psi.ArgumentList.Add(db);
        psi.ArgumentList.Add(seed.ToString(CultureInfo.InvariantCulture));
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start the stress child");
    }


    /// <summary>Collects the child's raw stdout bytes; only newline-terminated lines count, so a
    /// line cut by the kill is ignored rather than misparsed.</summary>
    private sealed class ChildOutput
    {
        private readonly StringBuilder _text = new();
        private readonly StringBuilder _stderr = new();
        private readonly Lock _gate = new();
        private readonly Thread _pump;
        private int _lines;

        public ChildOutput(Process child)
        {
            var stream = child.StandardOutput.BaseStream;
            _pump = new Thread(() =>
            {
                var buffer = new byte[4096];
                int n;
                while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    string chunk = Encoding.ASCII.GetString(buffer, 0, n);
                    lock (_gate)
                    {
                        _text.Append(chunk);
                        _lines += chunk.Count(c => c == '\n');
                    }
                }
            })
            { IsBackground = true };
            _pump.Start();
            // Drain stderr too so the child can never block on a full pipe.
            child.ErrorDataReceived += (_, e) =>
            {
                lock (_gate)
                    _stderr.AppendLine(e.Data);
            };
            child.BeginErrorReadLine();
        }

        public bool WaitForLines(int count, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < timeout)
            {
                lock (_gate)
                {
                    if (_lines >= count)
                        return true;
                }

                Thread.Sleep(5);
            }

            return false;
        }

        public void WaitForEnd() => Assert.True(_pump.Join(TimeSpan.FromSeconds(60)), "child stdout did not close after the kill");

        public string Text()
        {
            lock (_gate)
                return _text.ToString();
        }

        public string Errors()
        {
            lock (_gate)
                return _stderr.ToString();
        }

        public IEnumerable<string> CompleteLines()
        {
            string all = Text();
            int end = all.LastIndexOf('\n');
            return end < 0 ? [] : all[..end].Split('\n');
        }
    }
}
