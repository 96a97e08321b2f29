using System.Diagnostics;

namespace EdgeKws.Corpus;

/// <summary>Runs an external program (no shell), failing with its command line and stderr when it fails.</summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="program"/> with <paramref name="arguments"/>; throws <see cref="InvalidOperationException"/> on a non-zero exit or timeout.</summary>
    public static async Task RunAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default)
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

        await stdout.ConfigureAwait(false);
        string err = await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{commandLine}' exited with code {process.ExitCode}: {err.Trim()}");
        }
    }
}
