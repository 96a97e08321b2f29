using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeKws.Shared.Tests.Metrics;

/// <summary>Runs drift_reference.py under Debian's python3 (numpy + scipy). Fails (never skips) when they are missing.</summary>
internal static class ScipyReference
{
    public const string Python = "/usr/bin/python3";

    public sealed record Result(double KsD, double KsP, double Psi, string ScipyVersion);

    public static Result Run(double[] baseline, double[] current, long[] baselineCounts, long[] currentCounts, double eps)
    {
        Assert.True(File.Exists(Python), $"{Python} is missing: install Debian's python3 with python3-numpy and python3-scipy (apt-get install python3-scipy)");
        string script = Path.Combine(AppContext.BaseDirectory, "Metrics", "drift_reference.py");
        Assert.True(File.Exists(script), "reference script not copied next to the tests: " + script);
        var psi = new ProcessStartInfo(Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        using Process p = Process.Start(psi)!;
        var request = new JsonObject
        {
            ["baseline"] = new JsonArray(baseline.Select(v => (JsonNode)v).ToArray()),
            ["current"] = new JsonArray(current.Select(v => (JsonNode)v).ToArray()),
            ["baselineCounts"] = new JsonArray(baselineCounts.Select(v => (JsonNode)v).ToArray()),
            ["currentCounts"] = new JsonArray(currentCounts.Select(v => (JsonNode)v).ToArray()),
            ["eps"] = eps,
        };
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(request.ToJsonString());
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(300_000), "drift_reference.py did not finish in 300 s"); // liveness: python + scipy import under CI load
        Assert.True(p.ExitCode == 0, $"drift_reference.py failed ({p.ExitCode}); is python3-scipy installed? {stderr.Result}");
        using JsonDocument doc = JsonDocument.Parse(stdout.Result);
        JsonElement r = doc.RootElement;
        return new Result(r.GetProperty("ksD").GetDouble(), r.GetProperty("ksP").GetDouble(), r.GetProperty("psi").GetDouble(), r.GetProperty("scipy").GetString()!);
    }
}
