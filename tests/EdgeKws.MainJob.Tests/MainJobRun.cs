using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EdgeKws.MainJob;

namespace EdgeKws.MainJob.Tests;

/// <summary>
/// The built main job (edgekws-main-job.dll of the same configuration as the tests) as a child process,
/// with its stdout collected line by line and its output directory removed afterwards.
/// </summary>
internal sealed class MainJobRun : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();

    private MainJobRun(Process process, string outDir)
    {
        _process = process;
        OutDir = outDir;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_gate) _stdout.AppendLine(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_gate) _stderr.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string OutDir { get; }

    public int Pid => _process.Id;

    public string Stdout
    {
        get { lock (_gate) return _stdout.ToString(); }
    }

    public string Stderr
    {
        get { lock (_gate) return _stderr.ToString(); }
    }

    public static string MainJobDll()
    {
        RepoLayout repo = RepoLayout.Find();
        return Path.Combine(repo.Root, "tools", "EdgeKws.MainJob", "bin", repo.Configuration, "net10.0", "edgekws-main-job.dll");
    }

    public static MainJobRun Start(params string[] args)
    {
        string dll = MainJobDll();
        Assert.True(File.Exists(dll), $"the main job is not built: {dll}");
        string outDir = Path.Combine(Path.GetTempPath(), "edgekws-mainjob-test-" + Guid.NewGuid().ToString("N")[..8]);
        var psi = new ProcessStartInfo(EdgeKws.TestSupport.ChildProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("EDGEKWS_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(dll);
        foreach (string a in args.Concat(["--out", outDir, "--http-port", "0"]))
        {
            psi.ArgumentList.Add(a);
        }
        EdgeKws.TestSupport.ChildProcess.RestoreDefaultSigint(psi); // the Ctrl-C test must reach it however the test run was started
        return new MainJobRun(Process.Start(psi) ?? throw new InvalidOperationException("could not start the main job"), outDir);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the main job did not finish within {timeout.TotalSeconds:F0} s; output so far:\n{Stdout}\n{Stderr}");
        }
        _process.WaitForExit(); // flushes the output readers
        return _process.ExitCode;
    }

    public async Task WaitForStdoutAsync(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            Assert.False(_process.HasExited, $"the main job exited before printing '{text}':\n{Stdout}\n{Stderr}");
            Assert.True(sw.Elapsed < timeout, $"no '{text}' within {timeout.TotalSeconds:F0} s:\n{Stdout}");
            await Task.Delay(20);
        }
    }

    public void Signal(string signal)
    {
        using Process kill = Process.Start("kill", [$"-{signal}", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public JsonElement SummaryJson()
    {
        string path = Path.Combine(OutDir, "summary.json");
        Assert.True(File.Exists(path), $"no summary.json in {OutDir}:\n{Stdout}");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.Clone();
    }

    /// <summary>True when no process with this id exists any more (or it is a zombie nobody waits for).</summary>
    public static bool IsGone(int pid)
    {
        string stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return true;
        try
        {
            string text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(OutDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
