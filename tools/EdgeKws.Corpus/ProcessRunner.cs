using System.Diagnostics;

namespace EdgeKws.Corpus;

/// <summary>Runs an external program (no shell), failing with its command line and stderr when it fails.</summary>
public static class ProcessRunner
{
    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="arguments"/> and returns its standard output; throws
    /// <see cref="InvalidOperationException"/> on a timeout, or on a non-zero exit when <paramref name="requireSuccess"/>
    /// (flite --version, for one, exits with 1).
    /// </summary>
    public static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default, bool requireSuccess = true)
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

        string commandLine = program + " " + string.Join(' ', arguments.Select(a => a.Contains(' ') ? "\"" + a + "\"" : a));
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
            throw new InvalidOperationException(cancellationToken.IsCancellationRequested
                ? $"Cancelled: {commandLine}"
                : $"Timed out after {timeout.TotalSeconds:0} s: {commandLine}");
        }

        string output = await stdout.ConfigureAwait(false);
        string err = await stderr.ConfigureAwait(false);
        if (requireSuccess && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{commandLine}' exited with code {process.ExitCode}: {err.Trim()}");
        }

        return output;
    }
}
