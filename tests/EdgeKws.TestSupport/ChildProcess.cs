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
}
