using EdgeKws.Shared.Processes;

namespace EdgeKws.Bench.Tests;

/// <summary>The edgekws-bench command line (System.CommandLine, docs/cli.md): help and usage errors, none of which measures anything.</summary>
public sealed class BenchCommandLine_Tests
{
    [Theory]
    [InlineData("--help", "report", "--check-baseline", "BENCHMARKDOTNET-ARGUMENTS")]
    [InlineData("report --help", "--out", "--quick", "--model", "--corpus", "--evaluate", "--agent", "--agent-arm64", "--no-arm64", "--compare", "--ingest", "--repo")]
    [InlineData("help", "--out", "--quick", "--compare", "--ingest")] // scripts/bench.sh --help
    public async Task Help_exits_0_and_lists_the_options(string command, params string[] expected)
    {
        var (exit, stdout, stderr) = await RunBench(command.Split(' '));
        Assert.True(exit == 0, stderr);
        Assert.Empty(stderr);
        foreach (string name in expected)
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--ingest takes DEVICES,MESSAGES (1..1000, 1..1000000), got '0,50'", "report", "--out", "o", "--ingest", "0,50")]
    [InlineData("--ingest takes DEVICES,MESSAGES (1..1000, 1..1000000), got '4'", "report", "--out", "o", "--ingest", "4")]
    [InlineData("--model must be an existing file", "report", "--out", "o", "--model", "no-such.manifest.json")]
    [InlineData("--corpus must be a directory written by edgekws-corpus generate", "report", "--out", "o", "--corpus", "/nonexistent")]
    [InlineData("'--compare'", "report", "--out", "o", "--compare", "HEAD")]
    [InlineData("--out DIR is required", "report", "--quick")]
    [InlineData("--check-baseline takes no other arguments", "--check-baseline", "--filter", "*")]
    public async Task A_bad_value_exits_2_naming_the_option_before_measuring_anything(string message, params string[] args)
    {
        var (exit, stdout, stderr) = await RunBench(args);
        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunBench(params string[] args)
    {
        // Same configuration as this test assembly (bin/<Configuration>/net10.0).
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        string repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repo, "EdgeKws.sln"))) repo = Path.GetDirectoryName(repo.TrimEnd(Path.DirectorySeparatorChar))!;
        string dll = Path.Combine(repo, "tools", "EdgeKws.Bench", "bin", configuration, "net10.0", "EdgeKws.Bench.dll");
        Assert.True(File.Exists(dll), $"{dll} not built");
        return ExternalProcess.RunAsync("dotnet", [dll, .. args], TimeSpan.FromMinutes(1), CancellationToken.None);
    }
}
