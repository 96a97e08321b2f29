using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace EdgeKws.MainJob;

/// <summary>
/// One child process of the main job (gateway or agent): a built .dll run under <c>dotnet exec</c>,
/// stdout and stderr captured line by line (and copied to a log file), stopped with SIGTERM so it
/// shuts down the way an operator would stop it, and killed if it does not. The same pattern as the
/// tests' child processes (TestSupport <c>ChildProcess.DotnetHost</c>, the agent tests' <c>AgentProcess</c>):
/// no EDGEKWS_* variable of the caller leaks into a child.
/// </summary>
internal sealed partial class ChildProcess : IDisposable
{
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly Lock _gate = new();
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(string name, Process process, string logPath)
    {
        Name = name;
        _process = process;
        _log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, stdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Short name used in progress lines ("gateway", "device-01").</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Raised for each stdout line (on a thread-pool thread).</summary>
    public event Action<string>? StdoutLine;

    /// <summary>The dotnet host running this tool, so children run on the same runtime.</summary>
    public static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }
        string? path = Environment.ProcessPath;
        return path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
    }

    /// <summary>
    /// <c>dotnet exec {dll} {args}</c> with redirected output. The job's own <c>EDGEKWS_*</c> variables are
    /// removed: they are the agent's and the gateway's config overrides, which refuse unknown keys.
    /// </summary>
    private static ProcessStartInfo DotnetExec(string dll, IEnumerable<string> args, string workingDirectory, bool redirectStdin)
    {
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("EDGEKWS_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(key);
        }
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(dll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return psi;
    }

    /// <summary>Starts <c>dotnet exec {dll} {args}</c> in <paramref name="workingDirectory"/>.</summary>
    public static ChildProcess Start(string name, string dll, IEnumerable<string> args, string workingDirectory, string logPath, bool redirectStdin = false)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{name}: {dll} is not built (run scripts/main-job.sh, which builds it)", dll);
        }
        var process = Process.Start(DotnetExec(dll, args, workingDirectory, redirectStdin)) ?? throw new InvalidOperationException($"{name}: could not start {dll}");
        return new ChildProcess(name, process, logPath);
    }

    /// <summary>Runs a short command to completion (e.g. <c>device add</c>) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToEndAsync(string dll, IEnumerable<string> args, string workingDirectory, string? stdin, TimeSpan timeout, CancellationToken ct)
    {
        using var p = Process.Start(DotnetExec(dll, args, workingDirectory, redirectStdin: true)) ?? throw new InvalidOperationException($"could not start {dll}");
        if (stdin is not null)
        {
            await p.StandardInput.WriteLineAsync(stdin.AsMemory(), ct).ConfigureAwait(false);
        }
        p.StandardInput.Close();
        Task<string> o = p.StandardOutput.ReadToEndAsync(ct);
        Task<string> e = p.StandardError.ReadToEndAsync(ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        return (p.ExitCode, (await o.ConfigureAwait(false)) + (await e.ConfigureAwait(false)));
    }

    public StreamWriter StandardInput => _process.StandardInput;

    /// <summary>Complete stdout lines so far.</summary>
    public IReadOnlyList<string> Lines()
    {
        lock (_gate)
        {
            return [.. _stdout];
        }
    }

    /// <summary>The first stdout line starting with <paramref name="prefix"/>, waiting up to <paramref name="timeout"/>.</summary>
    public async Task<string?> WaitForLineAsync(string prefix, TimeSpan timeout, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            ct.ThrowIfCancellationRequested();
            string? line = Lines().FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (line is not null)
            {
                return line;
            }
            if (_process.HasExited)
            {
                await _stdoutClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
                return Lines().FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            }
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>Waits for exit and for both output streams to be read to the end.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
        catch (TimeoutException)
        {
            return true;
        }
    }

    /// <summary>
    /// Graceful stop: SIGTERM (the gateway commits what is queued, an agent drains its outbox), then
    /// SIGKILL after <paramref name="grace"/>. Never throws; safe to call on an exited process.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        try
        {
            if (_process.HasExited)
            {
                return;
            }
            _ = Kill(_process.Id, SigTerm);
            if (!await WaitForExitAsync(grace, CancellationToken.None).ConfigureAwait(false))
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            (stdout ? _stdoutClosed : _stderrClosed).TrySetResult();
            return;
        }
        lock (_gate)
        {
            if (stdout)
            {
                _stdout.Add(line);
            }
            try
            {
                _log.WriteLine(stdout ? line : "[stderr] " + line);
            }
            catch (ObjectDisposedException)
            {
                // The log was closed while a late line arrived.
            }
        }
        if (stdout)
        {
            StdoutLine?.Invoke(line);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
        _process.Dispose();
        lock (_gate)
        {
            _log.Dispose();
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} (pid {Id})");

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
