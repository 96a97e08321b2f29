using EdgeKws.Shared.Processes;

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
        var (exitCode, stdout, stderr) = await ExternalProcess.RunAsync(program, arguments, timeout, cancellationToken).ConfigureAwait(false);
        if (requireSuccess && exitCode != 0)
        {
            throw new InvalidOperationException($"'{program} {string.Join(' ', arguments)}' exited with code {exitCode}: {stderr.Trim()}");
        }

        return stdout;
    }
}
