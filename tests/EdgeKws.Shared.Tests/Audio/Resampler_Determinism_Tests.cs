using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using EdgeKws.ResamplerAotCheck;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Audio;

/// <summary>
/// The resampler must give the same bits wherever it runs: under the gateway's JIT (whatever vector width the CPU
/// has), in the device's NativeAOT binary, and on a CPU without SIMD. tools/audio/ResamplerAotCheck prints a
/// SHA-256 of its output for a fixed signal at several rates; these tests run it each way and compare with the
/// hashes this (JIT) test process computes with the same code.
/// </summary>
public sealed class Resampler_Determinism_Tests(ITestOutputHelper output)
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    // A liveness guard only: NativeAOT compilation takes one to several minutes on a loaded 2-core machine.
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(20);

    [Fact]
    public void NativeAot_binary_gives_the_same_bits_as_the_JIT()
    {
        using var dir = new TempDirectory();
        string rid = "linux-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        string project = Path.Combine(RepositoryRoot.Path, "tools", "audio", "ResamplerAotCheck", "ResamplerAotCheck.csproj");
        string publishDir = dir.File("publish");
        // Its own artifacts path: the publish restores and builds for the RID without touching the obj/ and bin/
        // folders the solution build (and any test running in parallel) uses.
        var publish = Run(DotnetHost(),
            ["publish", project, "-c", "Release", "-r", rid, "-p:PublishAot=true", "-o", publishDir,
             "--artifacts-path", dir.File("artifacts"), "-nologo", "-v", "q", "-clp:ErrorsOnly"],
            environment: null, PublishTimeout);
        string binary = Path.Combine(publishDir, "ResamplerAotCheck");
        Assert.True(publish.ExitCode == 0 && File.Exists(binary), $"NativeAOT publish for {rid} failed ({publish.ExitCode}): {publish.Output}");

        var aot = Run(binary, [], environment: null, RunTimeout);
        AssertSameBitsAsThisProcess(aot, expectedRuntime: "nativeaot");
    }

    [Theory]
    [InlineData(null)] // the JIT as the gateway and the tools run it: tiered, with whatever SIMD the CPU has
    [InlineData("DOTNET_EnableAVX")] // 128-bit vectors only, as in NativeAOT's default x64 target: Vector<float> has 4 lanes
    [InlineData("DOTNET_EnableHWIntrinsic")] // no SIMD at all: Vector128's software fallback
    public void JIT_process_gives_the_same_bits_whatever_SIMD_it_may_use(string? disabled)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ResamplerAotCheck.dll");
        var environment = disabled is null ? null : new Dictionary<string, string> { [disabled] = "0" };
        var jit = Run(DotnetHost(), ["exec", dll], environment, RunTimeout);
        string header = AssertSameBitsAsThisProcess(jit, expectedRuntime: "jit");
        if (disabled == "DOTNET_EnableHWIntrinsic")
        {
            Assert.Contains("vector128-accelerated False", header, StringComparison.Ordinal);
        }
    }

    private string AssertSameBitsAsThisProcess((int ExitCode, string Output) run, string expectedRuntime)
    {
        Assert.True(run.ExitCode == 0, $"ResamplerAotCheck exited with {run.ExitCode}: {run.Output}");
        string[] lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string header = lines[0];
        output.WriteLine($"child:        {header}");
        output.WriteLine($"test process: jit, Vector<float> {Vector<float>.Count} lanes");
        Assert.StartsWith("runtime " + expectedRuntime + " ", header, StringComparison.Ordinal);
        Assert.Equal(ResamplerFingerprint.InputRatesHz.Length, lines.Length - 1);
        foreach (int rate in ResamplerFingerprint.InputRatesHz)
        {
            var (input, outputHash, samples) = ResamplerFingerprint.Compute(rate);
            string line = Assert.Single(lines, l => l.StartsWith(rate + " ", StringComparison.Ordinal));
            output.WriteLine($"  {line}");
            // The input first: if it differed, the resampler would not be the reason the outputs do.
            Assert.Contains($"input {input} ", line, StringComparison.Ordinal);
            Assert.Equal($"{rate} input {input} output {outputHash} samples {samples}", line);
        }

        return header;
    }

    private static (int ExitCode, string Output) Run(string program, string[] arguments, Dictionary<string, string>? environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment ?? [])
        {
            psi.Environment[name] = value;
        }

        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in {timeout.TotalMinutes:0} min");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
