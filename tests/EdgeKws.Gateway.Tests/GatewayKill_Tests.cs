using System.Diagnostics;
using System.Globalization;
using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests;

/// <summary>
/// The gateway runs as a child process (EdgeKws.Gateway.Host) and is SIGKILLed several times while a real device uplink
/// streams detections into it. Why nothing is lost or doubled: the broker sends a PUBACK only after the message's
/// transaction committed, the device keeps everything not acknowledged in its outbox and re-sends it (QoS 1), and the
/// store ignores a (device, sequence) it already has.
/// </summary>
public sealed class GatewayKill_Tests(ITestOutputHelper output) : IDisposable
{
    private const string Device = "dev-kill";
    private const int Messages = 1_500;
    private static readonly int[] KillAfterAcked = [150, 600, 1_100];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Restarts_after_SIGKILL_mid_ingest_with_nothing_lost_or_doubled()
    {
        string db = _dir.File("gateway.db");
        int port = TestWait.FreeLoopbackPort();
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = db }))
        {
            store.SetDeviceCredential(Device, PasswordHash.Create(InProcessGateway.Password, iterations: 1_000));
        }
        var outbox = new InMemoryOutboxQueue();
        for (int i = 1; i <= Messages; i++)
        {
            outbox.Enqueue(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, i)), Wire.ConfigHash);
        }

        var random = new Random(Environment.TickCount);
        GatewayChild child = await GatewayChild.StartAsync(db, port, _dir.Path);
        var sw = Stopwatch.StartNew();
        await using var uplink = new MqttUplink(Wire.UplinkOptions(port, Device), outbox);
        uplink.Start();
        try
        {
            foreach (int threshold in KillAfterAcked)
            {
                await TestWait.UntilAsync(() => outbox.Acknowledged.Length >= threshold, Timeout,
                    () => $"{outbox.Acknowledged.Length} acknowledged; uplink: {uplink.LastError}; child: {child.Output()}");
                child.Kill(); // SIGKILL, mid-stream: the device is publishing continuously
                Assert.Equal(128 + 9, child.ExitCode);
                output.WriteLine($"killed the gateway after {outbox.Acknowledged.Length} acknowledged");
                child.Dispose();
                await Task.Delay(random.Next(0, 300));
                child = await GatewayChild.StartAsync(db, port, _dir.Path);
            }
            await TestWait.UntilAsync(() => outbox.Count == 0, Timeout,
                () => $"{outbox.Count} still in the outbox; uplink: {uplink.LastError}; child: {child.Output()}");
            sw.Stop();
            await uplink.StopAsync();
            string summary = await child.StopGracefullyAsync();
            output.WriteLine(summary);
        }
        finally
        {
            child.Dispose();
        }

        Assert.Empty(outbox.DeadLettered);
        Assert.Equal(Enumerable.Range(1, Messages).Select(i => (long)i), outbox.Acknowledged);
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = db }))
        {
            Assert.Equal(Enumerable.Range(1, Messages).Select(i => (long)i), store.ReadSequences(Device));
            StoreCounts counts = store.Count();
            Assert.Equal(Messages, counts.Detections);
            Assert.Equal(0, counts.Quarantined);
        }
        MqttUplinkStats stats = uplink.Stats;
        output.WriteLine($"{Messages} detections through {KillAfterAcked.Length} SIGKILLs in {sw.Elapsed.TotalSeconds:0.0} s: "
            + $"{stats.Connects} connects, {stats.Published} publishes, {stats.Resent} re-sent after a lost PUBACK; stored exactly {Messages}");
    }

    /// <summary>The gateway executable as a child process, ready once it prints "gateway: ready".</summary>
    private sealed class GatewayChild : IDisposable
    {
        private readonly Process _process;
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        private GatewayChild(Process process) => _process = process;

        public int ExitCode => _process.ExitCode;

        public static async Task<GatewayChild> StartAsync(string db, int port, string workingDirectory)
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "EdgeKws.Gateway.Host.dll");
            Assert.True(File.Exists(dll), $"gateway host not built next to the tests: {dll}");
            var psi = new ProcessStartInfo(ChildProcess.DotnetHost())
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory,
            };
            foreach (string arg in new[]
                     {
                         "exec", dll,
                         "--Gateway:Store:DatabasePath=" + db,
                         "--Gateway:Broker:Port=" + port.ToString(CultureInfo.InvariantCulture),
                         "--Gateway:Http:Port=0",
                         "--Logging:LogLevel:Default=Warning",
                     })
            {
                psi.ArgumentList.Add(arg);
            }
            var child = new GatewayChild(Process.Start(psi) ?? throw new InvalidOperationException("could not start the gateway"));
            child._process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
            child._process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
            child._process.BeginOutputReadLine();
            child._process.BeginErrorReadLine();
            Task finished = await Task.WhenAny(child._ready.Task, Task.Delay(TimeSpan.FromSeconds(30)));
            Assert.True(finished == child._ready.Task, "the gateway did not print 'gateway: ready' within 30 s: " + child.Output());
            return child;
        }

        private void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }
            _lines.Enqueue(line);
            if (line == "gateway: ready")
            {
                _ready.TrySetResult();
            }
            else if (line.StartsWith("gateway: stopped", StringComparison.Ordinal))
            {
                _stopped.TrySetResult(line);
            }
        }

        public string Output() => string.Join(" | ", _lines.TakeLast(20));

        public void Kill()
        {
            _process.Kill(); // SIGKILL on Linux
            _process.WaitForExit();
        }

        /// <summary>SIGTERM (the host's graceful shutdown); returns its closing metrics line.</summary>
        public async Task<string> StopGracefullyAsync()
        {
            using (Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            Task finished = await Task.WhenAny(_stopped.Task, Task.Delay(TimeSpan.FromSeconds(30)));
            Assert.True(finished == _stopped.Task, "the gateway did not stop gracefully: " + Output());
            await _process.WaitForExitAsync();
            Assert.Equal(0, _process.ExitCode);
            return await _stopped.Task;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }
}
