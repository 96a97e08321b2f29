using EdgeKws.Shared.Processes;

namespace EdgeKws.Bench.Tests;

/// <summary>
/// The command lines of edgekws-bench and EdgeKws.IngestBench (System.CommandLine, docs/cli.md): help and usage errors, none
/// of which measures anything, and one tiny ingest run with the options the report passes.
/// </summary>
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

    [Theory]
    [InlineData("--help", "ingest")]
    [InlineData("ingest --help", "--target", "--devices", "--messages", "--timeout-s")]
    public async Task Ingest_bench_help_exits_0_and_lists_the_options(string command, params string[] expected)
    {
        var (exit, stdout, stderr) = await Run("EdgeKws.IngestBench", command.Split(' '));
        Assert.True(exit == 0, stderr);
        foreach (string name in expected)
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--devices must be in 1..1000 (got 0)", "ingest", "--devices", "0")]
    [InlineData("--messages must be in 1..1000000 (got 1000001)", "ingest", "--messages", "1000001")]
    [InlineData("--target must be sqlite or postgres (got mysql)", "ingest", "--target", "mysql")]
    [InlineData("--timeout-s must be >= 1 (got 0)", "ingest", "--timeout-s", "0")]
    [InlineData("Required command was not provided", "--devices", "2")]
    public async Task Ingest_bench_refuses_a_bad_value_with_exit_2_naming_the_option(string message, params string[] args)
    {
        var (exit, stdout, stderr) = await Run("EdgeKws.IngestBench", args);
        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_bench_runs_with_the_options_the_report_passes()
    {
        var (exit, stdout, stderr) = await Run("EdgeKws.IngestBench", "ingest", "--target", "sqlite", "--devices", "2", "--messages", "10", "--timeout-s", "60");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Matches(@"^target=sqlite devices=2 messages/device=10 total=20 .* lost=0 refused=0", stdout);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunBench(params string[] args) => Run("EdgeKws.Bench", args);

    private static Task<(int ExitCode, string Stdout, string Stderr)> Run(string tool, params string[] args)
    {
        // Same configuration as this test assembly (bin/<Configuration>/net10.0).
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        string dll = Path.Combine(RepositoryRoot.Path, "tools", tool, "bin", configuration, "net10.0", tool + ".dll");
        Assert.True(File.Exists(dll), $"{dll} not built");
        return ExternalProcess.RunAsync("dotnet", [dll, .. args], TimeSpan.FromMinutes(1), CancellationToken.None);
    }
}
