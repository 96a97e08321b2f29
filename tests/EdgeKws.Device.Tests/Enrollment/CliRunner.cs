using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace EdgeKws.Device.Tests.Enrollment;

/// <summary>Output of one run of the real edgekws-enroll process.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The --json lines, parsed (every stdout line must be one JSON object).</summary>
    public IReadOnlyList<JsonElement> Events =>
        Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    public IEnumerable<JsonElement> Of(string kind) => Events.Where(e => e.GetProperty("event").GetString() == kind);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs tools/EdgeKws.Enroll (built next to the tests through the project reference) as a child process.</summary>
internal static class CliRunner
{
    public static CliRun Run(IEnumerable<string> args, byte[]? stdin = null, IDictionary<string, string>? env = null, int timeoutMs = 60_000)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "edgekws-enroll.dll");
        Assert.True(File.Exists(dll), $"edgekws-enroll not built next to the tests: {dll}");
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(dll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (KeyValuePair<string, string> kv in env ?? new Dictionary<string, string>())
        {
            psi.Environment[kv.Key] = kv.Value;
        }

        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.BaseStream.Write(stdin);
        }

        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill();
            Assert.Fail($"edgekws-enroll did not finish in {timeoutMs} ms: {stdout.Result}");
        }

        return new CliRun(p.ExitCode, stdout.Result, stderr.Result);
    }

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
}
