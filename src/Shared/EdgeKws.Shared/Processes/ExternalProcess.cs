using System.Diagnostics;

namespace EdgeKws.Shared.Processes;

/// <summary>
/// Runs an external program (espeak-ng, sox, pocketsphinx ...) without a shell and returns its exit
/// code, stdout and stderr. Used by the gateway-side labeling library and the corpus tool; never by
/// the device agent.
/// </summary>
public static class ExternalProcess
{
    /// <summary>
    /// Runs <paramref name="program"/>; throws <see cref="InvalidOperationException"/> with the command
    /// line when it cannot start (naming the likely missing Debian package), times out or is cancelled.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        string commandLine = program + " " + string.Join(' ', arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? "\"" + a + "\"" : a));
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Cannot start '{program}' ({e.Message}); is its Debian package installed? Command: {commandLine}", e);
        }

        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException(cancellationToken.IsCancellationRequested ? $"Cancelled: {commandLine}" : $"Timed out after {timeout.TotalSeconds:0} s: {commandLine}");
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Full path of <paramref name="program"/> on PATH, if there.</summary>
    public static bool TryFind(string program, out string path)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                path = candidate;
                return true;
            }
        }

        path = "";
        return false;
    }
}
