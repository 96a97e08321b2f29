using System.Diagnostics;
using System.Globalization;

namespace EdgeKws.Gateway.Tests;

/// <summary>The gateway executable as a child process, ready once it prints "gateway: ready".</summary>
internal sealed class GatewayChild : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    private GatewayChild(Process process) => _process = process;

    public int ExitCode => _process.ExitCode;

    /// <summary>Resident set size now (VmRSS) and its peak since the process started (VmHWM), from /proc.</summary>
    public (long RssBytes, long PeakRssBytes) Memory()
    {
        long rss = 0, peak = 0;
        foreach (string line in File.ReadAllLines($"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line) * 1024;
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line) * 1024;
            }
        }
        return (rss, peak);

        static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Every line the child printed so far.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <summary>A counter from the "gateway: stopped GatewayMetricsSnapshot { ... }" line.</summary>
    public static long Counter(string stoppedLine, string name)
    {
        System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(stoppedLine, "\\b" + name + " = (\\d+)");
        Assert.True(m.Success, $"no {name} in '{stoppedLine}'");
        return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public static Task<GatewayChild> StartAsync(string db, int port, string workingDirectory) =>
        StartAsync(workingDirectory,
            "--Gateway:Store:DatabasePath=" + db,
            "--Gateway:Broker:Port=" + port.ToString(CultureInfo.InvariantCulture));

    /// <summary>Starts the host with <paramref name="gatewayArgs"/> (configuration overrides) and waits for "gateway: ready".</summary>
    public static async Task<GatewayChild> StartAsync(string workingDirectory, params string[] gatewayArgs)
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
        // The exe opens its HTTP API on 8080 by default: port 0 (a free port) so two children, or a child and anything else on
        // the machine, never collide. gatewayArgs come later and may override it.
        foreach (string arg in new[] { "exec", dll, "--Logging:LogLevel:Default=Warning", "--Gateway:Http:Port=0" }.Concat(gatewayArgs))
        {
            psi.ArgumentList.Add(arg);
        }
        var child = new GatewayChild(Process.Start(psi) ?? throw new InvalidOperationException("could not start the gateway"));
        child._process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        child._process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        // Liveness only: dotnet exec + JIT of ASP.NET Core and the broker take tens of seconds on a loaded 2-core CI machine.
        Task finished = await Task.WhenAny(child._ready.Task, Task.Delay(TimeSpan.FromSeconds(180)));
        Assert.True(finished == child._ready.Task, "the gateway did not print 'gateway: ready' within 180 s: " + child.Output());
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

    /// <summary>The HTTP API's address from the "gateway: http ..." line.</summary>
    public Uri HttpAddress => new(_lines.First(l => l.StartsWith("gateway: http ", StringComparison.Ordinal))["gateway: http ".Length..].Trim());

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
        Task finished = await Task.WhenAny(_stopped.Task, Task.Delay(TimeSpan.FromSeconds(120)));
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
