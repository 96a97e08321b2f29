using System.Diagnostics;

namespace EdgeKws.TestSupport;

/// <summary>Helpers for tests that run a built project as a child process (kill tests).</summary>
public static class ChildProcess
{
    /// <summary>The dotnet host that runs the tests, so a child runs on the same runtime.</summary>
    public static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
            return host;
        string? path = Environment.ProcessPath;
        return path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
    }

    /// <summary>
    /// Makes <paramref name="psi"/> start its program with SIGINT at the default disposition, for tests that send a
    /// child Ctrl-C. A test run started in the background of a non-interactive shell (<c>cmd &amp;</c>, nohup, some CI
    /// wrappers) ignores SIGINT; an ignored signal stays ignored across fork and exec, and the .NET runtime then never
    /// sees the Ctrl-C, so the child would hang where the test expects it to stop. GNU env resets it and execs the
    /// program in place (same PID).
    /// </summary>
    public static void RestoreDefaultSigint(ProcessStartInfo psi)
    {
        ArgumentNullException.ThrowIfNull(psi);
        const string env = "/usr/bin/env";
        if (!File.Exists(env))
            return;
        List<string> args = [.. psi.ArgumentList];
        psi.ArgumentList.Clear();
        psi.ArgumentList.Add("--default-signal=INT");
        psi.ArgumentList.Add(psi.FileName);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        psi.FileName = env;
    }
}
