using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Bench.Tests;

/// <summary>
/// Runs the real <c>edgekws-bench report --quick</c> (real agent process, corpus, evaluator, torchaudio,
/// ingest bench) and checks the report it writes. The quick run takes about 15-40 s here.
/// </summary>
public sealed class BenchReport_Tests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "edgekws-bench-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    [Fact]
    public async Task Quick_report_has_every_section_with_numbers_and_plots_that_decode()
    {
        var (exit, stdout, stderr) = await RunBench("report", "--quick", "--out", _out);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");

        string md = await File.ReadAllTextAsync(Path.Combine(_out, "report.md"));
        foreach (string section in new[] { "## Machine", "## Memory", "## Latency", "## Throughput", "## Accuracy" })
        {
            Assert.Contains(section, md);
        }
        // The machine it ran on, with numbers.
        Assert.Matches(@"\| Cores \| [1-9]\d* \|", md);
        Assert.Matches(@"\| RAM \| \d+(\.\d+)? GiB \|", md);
        Assert.Matches(@"\| Load average \(1/5/15 min\) \| \d+\.\d+ \d+\.\d+ \d+\.\d+ at start", md);
        Assert.Matches(@"\| \.NET \| \.NET \d+", md);
        // Memory against budgets, pass/fail stated.
        Assert.Matches(@"\| MFCC state \(MfccExtractor\.StateBytes\) \| [\d,]+ B \| 16,384 B \| pass \|", md);
        Assert.Matches(@"\| Model file \| [\d,]+ B \| 65,536 B \| pass \| [^|]+\.onnx \|", md);
        Assert.Matches(@"\| Enrollment session state [^|]*\| [\d,]+ B \|", md);
        Assert.Matches(@"\| Agent peak RSS, x64 \| \d+(\.\d+)? MiB \|", md);
        // Latency percentiles from the agent, with sample counts.
        foreach (string metric in new[] { "MFCC per frame", "Inference per window", "Keyword end to event" })
        {
            Match row = Regex.Match(md, $@"\| {metric} \| linux-x64 \| (\d+) \| (-?[\d.,]+) (us|ms)");
            Assert.True(row.Success, $"no numeric latency row for {metric}");
            Assert.True(int.Parse(row.Groups[1].Value, CultureInfo.InvariantCulture) > 0, $"{metric}: no samples");
        }
        // Throughput and accuracy figures.
        Assert.Matches(@"\| MFCC real-time factor, EdgeKws [^|]*\| \d", md);
        Assert.Matches(@"\| MFCC real-time factor, torchaudio compliance\.kaldi\.mfcc [^|]*\| \d", md);
        Assert.Matches(@"\| Gateway ingest, messages/s [^|]*\| [\d,.]+ msg/s \|", md);
        Assert.Matches(@"\| Gateway ingest, messages lost \| 0 \|", md);
        Assert.Matches(@"\| False accepts per hour \| \d", md);
        Assert.Matches(@"\| False reject rate \| \d+(\.\d+)? %", md);
        // The breakdown: intervals, FRR by engine / room / SNR, FA/hour by kind of negative audio.
        Assert.Matches(@"At threshold [\d.]+, 95 % intervals [^\n]*FRR \*\*[\d.]+ %\*\* \[[\d.]+ %, [\d.]+ %\]", md);
        foreach (string table in new[] { "FRR by engine", "FRR by room", "FRR by SNR" })
        {
            Assert.Matches($@"\| {table} \| keywords \| missed \| FRR \| 95 % interval \|\n\|---\|---:\|---:\|---:\|---\|\n\| [^|]+ \| \d+ \| \d+ \| [\d.]+ % \| [\d.]+ % - [\d.]+ % \|", md);
        }
        Assert.Matches(@"\| FA/hour by negative kind \| hours \| false accepts \| FA/hour \| 95 % interval \|\n\|[^\n]*\n\| [a-z:-]+ \| [\d.]+ \| \d+ \|", md);

        foreach (string png in new[] { "latency.png", "memory.png", "det.png" })
        {
            Assert.Contains($"]({png})", md);
            var (w, h, rgb) = PngDecoder.Decode(await File.ReadAllBytesAsync(Path.Combine(_out, png)));
            Assert.True(w >= 200 && h >= 150, $"{png} is {w}x{h}");
            Assert.True(rgb.Any(b => b < 200), $"{png} is blank");
        }

        using var figures = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(_out, "figures.json")));
        JsonElement f = figures.RootElement.GetProperty("subjects")[0].GetProperty("figures");
        Assert.InRange(f.GetProperty("memory.mfcc_state_bytes").GetDouble(), 1, 16 * 1024);
        Assert.InRange(f.GetProperty("memory.model_bytes").GetDouble(), 1, 64 * 1024);
        Assert.Equal(0, f.GetProperty("memory.hot_path_alloc_per_audio_s").GetDouble());
        Assert.True(f.GetProperty("latency.mfcc_per_frame.x64.p99.9").GetDouble() >= f.GetProperty("latency.mfcc_per_frame.x64.p50").GetDouble());
        Assert.True(f.GetProperty("accuracy.frr_percent.high95").GetDouble() >= f.GetProperty("accuracy.frr_percent").GetDouble());
        JsonElement breakdown = figures.RootElement.GetProperty("subjects")[0].GetProperty("accuracyBreakdown");
        long keywords = breakdown.GetProperty("overallFrr").GetProperty("keywords").GetInt64();
        JsonElement engines = breakdown.GetProperty("frrBy").EnumerateArray().Single(t => t.GetProperty("tag").GetString() == "engine").GetProperty("groups");
        Assert.Equal(keywords, engines.EnumerateArray().Sum(g => g.GetProperty("keywords").GetInt64()));
    }

    [Fact]
    public async Task Compare_of_a_model_with_itself_prints_ratio_one_for_its_size()
    {
        string repo = RepositoryRoot.Path;
        string manifest = Directory.GetFiles(Path.Combine(repo, "models", "default"), "*.manifest.json").Order(StringComparer.Ordinal).Last();
        var (exit, stdout, stderr) = await RunBench("report", "--quick", "--out", _out, "--compare", manifest, manifest);
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        string md = await File.ReadAllTextAsync(Path.Combine(_out, "compare.md"));
        Assert.Matches(@"\| Model file \| [\d,]+ B \| [\d,]+ B \| 1 \|", md);
        Assert.Matches(@"\| MFCC per frame p50, x64 \| [\d.,]+ us \| [\d.,]+ us \| \d+(\.\d+)? \|", md);
        Assert.Contains("| figure | A | B | B/A |", stdout);
    }

    [Fact]
    public async Task Unknown_option_is_refused_with_its_name_and_exit_2()
    {
        var (exit, _, stderr) = await RunBench("report", "--out", _out, "--frobnicate");
        Assert.Equal(2, exit);
        Assert.Contains("unknown option '--frobnicate'", stderr);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunBench(params string[] args)
    {
        string repo = RepositoryRoot.Path;
        // Same configuration as this test assembly (bin/<Configuration>/net10.0).
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        string dll = Path.Combine(repo, "tools", "EdgeKws.Bench", "bin", configuration, "net10.0", "EdgeKws.Bench.dll");
        Assert.True(File.Exists(dll), $"{dll} not built");
        return ExternalProcess.RunAsync("dotnet", [dll, .. args, "--repo", repo], TimeSpan.FromMinutes(5), CancellationToken.None);
    }
}
