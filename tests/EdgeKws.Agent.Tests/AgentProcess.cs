using System.Diagnostics;
using System.Text;

namespace EdgeKws.Agent.Tests;

/// <summary>
/// Runs the real agent (edgekws-agent.dll under <c>dotnet exec</c>, built next to the tests) as a child
/// process. Its environment has no EDGEKWS_ variables except the ones a test sets, so a developer's own
/// overrides never leak into a test.
/// </summary>
internal sealed class AgentProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly Thread _pump;
    private int _lines;

    private AgentProcess(Process process)
    {
        _process = process;
        Stream stream = process.StandardOutput.BaseStream;
        // Raw bytes: a line cut by SIGKILL is left incomplete (no newline) and ignored.
        _pump = new Thread(() =>
        {
            var buffer = new byte[8192];
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                string chunk = Encoding.UTF8.GetString(buffer, 0, n);
                lock (_gate)
                {
                    _stdout.Append(chunk);
                    foreach (char c in chunk) if (c == '\n') _lines++;
                }
            }
        })
        { IsBackground = true };
        _pump.Start();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_gate) _stderr.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public static string AgentDll => Path.Combine(AppContext.BaseDirectory, "edgekws-agent.dll");

    public static AgentProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(AgentDll), $"the agent is not built next to the tests: {AgentDll}");
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("EDGEKWS_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }
        if (environment is not null)
        {
            foreach ((string k, string v) in environment) psi.Environment[k] = v;
        }
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(AgentDll);
        foreach (string a in args) psi.ArgumentList.Add(a);
        return new AgentProcess(Process.Start(psi) ?? throw new InvalidOperationException("could not start the agent"));
    }

    /// <summary>Complete stdout lines so far.</summary>
    public List<string> Lines()
    {
        lock (_gate)
        {
            string text = _stdout.ToString();
            int end = text.LastIndexOf('\n');
            return end < 0 ? [] : [.. text[..end].Split('\n')];
        }
    }

    public int LineCount
    {
        get { lock (_gate) return _lines; }
    }

    public string Stdout
    {
        get { lock (_gate) return _stdout.ToString(); }
    }

    public string Stderr
    {
        get { lock (_gate) return _stderr.ToString(); }
    }

    public bool WaitForLines(int count, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (LineCount < count)
        {
            if (_process.HasExited || sw.Elapsed > timeout) return LineCount >= count;
            Thread.Sleep(2);
        }
        return true;
    }

    public bool WaitForStderr(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited || sw.Elapsed > timeout) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    /// <summary>Waits for exit and for stdout to be fully read (false when either takes longer than <paramref name="timeout"/>).</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return false;
        _process.WaitForExit(); // flushes the async stderr reader
        // The pump may still be copying the last of stdout (the summary line) on a loaded machine: the callers read Lines() next.
        return _pump.Join(timeout);
    }

    public void Signal(string signal)
    {
        using Process kill = Process.Start("kill", [$"-{signal}", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
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

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        string? path = Environment.ProcessPath;
        return path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
    }
}
