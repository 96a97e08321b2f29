using System.Globalization;
using System.Text.Json;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Bench.Report;

/// <summary>An agent build to measure: a NativeAOT binary, or a JIT build's edgekws-agent.dll run through dotnet.</summary>
public sealed record AgentBuild(string Path, string Platform, bool NativeAot, bool Emulated)
{
    public string Kind => (NativeAot ? "NativeAOT" : "JIT (dotnet edgekws-agent.dll)") + (Emulated ? ", qemu-user, EMULATED" : "");
}

/// <summary>What one agent run reported: its summary line and its --latency-out samples.</summary>
public sealed record AgentResult(
    AgentBuild Build, double AudioSeconds, double ElapsedSeconds, long ResidentBytes, long PeakResidentBytes, long ManagedAllocatedBytes,
    double[] MfccFrameUs, double[] InferenceMs, IReadOnlyList<(double EndS, double Score, double DecisionLatencyMs)> Detections,
    double PipelineInferenceP50Ms, double PipelineInferenceP99Ms, string Summary);

/// <summary>
/// Runs the real edgekws-agent over a WAV as fast as it can (--fast) with --latency-out and
/// --time-frontend, in a fresh state directory, with the uplink pointed at a closed port (messages
/// stay in the SQLite outbox; the broker is not what this measures). arm64 builds run under qemu-user
/// with the fake ARM /proc/cpuinfo of scripts/lib/arm64.sh (run_arm64).
/// </summary>
public static class AgentRunner
{
    public static async Task<AgentResult> RunAsync(AgentBuild build, string repoRoot, string modelManifest, string wavPath, string workDirectory,
        double frontEndSeconds, TimeSpan timeout, Action<string> log)
    {
        string dir = System.IO.Path.Combine(workDirectory, "agent-" + build.Platform + "-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        string config = System.IO.Path.Combine(dir, "agent.json");
        string latencyOut = System.IO.Path.Combine(dir, "latency.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "DeviceId": "bench-{{build.Platform}}",
              "StateDirectory": {{JsonSerializer.Serialize(System.IO.Path.Combine(dir, "state"))}},
              "Audio": { "Source": "wav", "WavPath": {{JsonSerializer.Serialize(wavPath)}}, "RealTime": false },
              "Mqtt": { "Host": "127.0.0.1", "Port": 1, "HeartbeatSeconds": 10 }
            }
            """);
        string[] agentArgs = ["--config", config, "--fast", "--quiet", "--drain-seconds", "0", "--model", modelManifest,
            "--latency-out", latencyOut, "--time-frontend", "--time-frontend-seconds", frontEndSeconds.ToString(CultureInfo.InvariantCulture)];
        string program;
        List<string> arguments;
        if (build.Emulated)
        {
            program = "bash";
            arguments = ["-c", "source \"$0\" && run_arm64 \"$@\"", System.IO.Path.Combine(repoRoot, "scripts", "lib", "arm64.sh"), build.Path, .. agentArgs];
        }
        else if (build.Path.EndsWith(".dll", StringComparison.Ordinal))
        {
            program = "dotnet";
            arguments = [build.Path, .. agentArgs];
        }
        else
        {
            program = build.Path;
            arguments = [.. agentArgs];
        }
        log($"agent {build.Platform} ({build.Kind}): {System.IO.Path.GetFileName(wavPath)}");
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync(program, arguments, timeout, CancellationToken.None);
        await File.WriteAllTextAsync(System.IO.Path.Combine(dir, "agent.out"), stdout + stderr);
        if (exit != 0 || !File.Exists(latencyOut))
        {
            throw new InvalidOperationException($"agent {build.Path} ({build.Platform}) exited with {exit}; output in {dir}/agent.out:\n{Tail(stderr + stdout)}");
        }
        string summary = stdout.Split('\n').LastOrDefault(l => l.StartsWith("summary:", StringComparison.Ordinal)) ?? "";
        using var doc = JsonDocument.Parse(await File.ReadAllBytesAsync(latencyOut));
        JsonElement r = doc.RootElement;
        var detections = new List<(double, double, double)>();
        foreach (JsonElement d in r.GetProperty("detections").EnumerateArray())
        {
            JsonElement l = d.GetProperty("decisionLatencyMs");
            detections.Add((d.GetProperty("endS").GetDouble(), d.GetProperty("score").GetDouble(), l.ValueKind == JsonValueKind.Number ? l.GetDouble() : double.NaN));
        }
        JsonElement pi = r.GetProperty("pipelineInferenceMs");
        return new AgentResult(build,
            r.GetProperty("audioSeconds").GetDouble(), r.GetProperty("elapsedSeconds").GetDouble(),
            r.GetProperty("residentBytes").GetInt64(), r.GetProperty("peakResidentBytes").GetInt64(),
            r.GetProperty("managedAllocatedBytesWhileListening").GetInt64(),
            Doubles(r.GetProperty("mfccFrameUs")), Doubles(r.GetProperty("inferenceMs")), detections,
            Number(pi.GetProperty("p50")), Number(pi.GetProperty("p99")), summary);
    }

    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : double.NaN;

    private static double[] Doubles(JsonElement array)
    {
        var values = new double[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement e in array.EnumerateArray()) values[i++] = e.GetDouble();
        return values;
    }

    private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];
}
