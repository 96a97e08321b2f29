using System.Text.Json;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Tests.Fixtures;
using EdgeKws.ModelTool;
using EdgeKws.TestSupport;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary><c>edgekws-model evaluate --streams</c>, <c>gate --streams</c> and <c>export-streams</c> end to end (in process).</summary>
[Collection(StreamingModelCollection.Name)]
public class ModelCommand_Tests(StreamingModelFixture fixture, ITestOutputHelper output)
{
    private (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = ModelCommand.Run(args, stdout, stderr);
        output.WriteLine($"$ edgekws-model {string.Join(' ', args)}\n{stdout}{stderr}-> {exit}");
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Evaluate_streams_file_prints_the_breakdown_table_and_writes_it_to_the_report()
    {
        string file = EvaluationBreakdown_Tests.WriteTaggedStreamsFile(fixture, Path.Combine(fixture.Root, "cli-streams.json"));
        string dir = Path.Combine(fixture.Root, "cli-eval");
        var (exit, stdout, stderr) = Run("evaluate", "--model", fixture.ManifestPath, "--streams", file, "--out", dir, "--threshold", "0.5");
        Assert.True(exit == 0, stderr);

        string[] lines = stdout.Split('\n');
        Assert.Matches(@"^kws-eval 1\.0\.0 'hey edge' at threshold 0\.5: [\d.]+ FA/hour", lines[0]);
        Assert.Matches(@"^  keyword end to event \(audio time, \d+ detected keywords\): p50 -?\d+ ms, p90 -?\d+ ms, p99 -?\d+ ms, max -?\d+ ms", lines[1]);
        Assert.Matches(@"^  overall at threshold 0\.5 \(95 % intervals\): FRR [\d.]+ % \[[\d.]+ %, [\d.]+ %\] \(\d+/\d+ missed\), [\d.]+ FA/hour \[[\d.]+, [\d.]+\]", lines[2]);
        foreach (string header in new[] { "FRR by engine", "FRR by room", "FRR by snr", "FA/hour by negative kind" })
            Assert.Contains(lines, l => l.StartsWith("  " + header, StringComparison.Ordinal));
        // Aligned: every row of the kind table is as wide as its header.
        int kindHeader = Array.FindIndex(lines, l => l.StartsWith("  FA/hour by negative kind", StringComparison.Ordinal));
        var kindRows = lines.Skip(kindHeader).TakeWhile((l, i) => i == 0 || l.StartsWith("    ", StringComparison.Ordinal)).ToList();
        Assert.Contains(kindRows, l => l.StartsWith("    noise:fan ", StringComparison.Ordinal));
        Assert.Contains(kindRows, l => l.StartsWith("    positive-background ", StringComparison.Ordinal));
        Assert.All(kindRows, l => Assert.Equal(kindRows[0].Length, l.Length));

        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, EvaluationWriter.ReportFile)));
        var b = doc.RootElement.GetProperty("breakdown");
        Assert.Equal("engine", b.GetProperty("frrBy")[0].GetProperty("tag").GetString());
        Assert.True(b.GetProperty("overallFaPerHour").TryGetProperty("faHigh95", out _));
        Assert.Equal(doc.RootElement.GetProperty("keywords").GetInt64(), b.GetProperty("overallFrr").GetProperty("keywords").GetInt64());
    }

    [Fact]
    public void Evaluate_refuses_a_model_over_the_device_budget_unless_a_larger_limit_is_given()
    {
        // The bundled gateway verifier: 455 KB of float ONNX, the device's feature configuration.
        string verifier = Path.Combine(RepositoryRoot.Path, "models", "verifier", "hey-edge-verifier-1.0.0.float.manifest.json");
        string file = EvaluationBreakdown_Tests.WriteTaggedStreamsFile(fixture, Path.Combine(fixture.Root, "budget-streams.json"));
        var device = Run("evaluate", "--model", verifier, "--streams", file, "--out", Path.Combine(fixture.Root, "budget-device"));
        Assert.Equal(1, device.Exit);
        Assert.Contains("over the 65536-byte model budget", device.Stderr);

        string dir = Path.Combine(fixture.Root, "budget-gateway");
        var gateway = Run("evaluate", "--model", verifier, "--streams", file, "--out", dir, "--max-model-bytes", "1000000");
        Assert.True(gateway.Exit == 0, gateway.Stderr);
        Assert.StartsWith("hey-edge-verifier 1.0.0 'hey edge' at threshold 0.5:", gateway.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir, "evaluation.json")));

        var bad = Run("evaluate", "--model", verifier, "--streams", file, "--out", dir, "--max-model-bytes", "0");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("--max-model-bytes must be a positive number of bytes", bad.Stderr);
    }

    [Fact]
    public void Evaluate_needs_exactly_one_evaluation_set()
    {
        string file = EvaluationBreakdown_Tests.WriteTaggedStreamsFile(fixture, Path.Combine(fixture.Root, "cli-streams-x.json"));
        var both = Run("evaluate", "--model", fixture.ManifestPath, "--streams", file, "--corpus", fixture.CorpusDirectory, "--out", Path.Combine(fixture.Root, "x"));
        Assert.Equal(1, both.Exit);
        Assert.Contains("--corpus and --streams are mutually exclusive", both.Stderr, StringComparison.Ordinal);
        var none = Run("evaluate", "--model", fixture.ManifestPath, "--out", Path.Combine(fixture.Root, "x"));
        Assert.Equal(1, none.Exit);
        Assert.Contains("an evaluation set is required: --corpus DIR", none.Stderr, StringComparison.Ordinal);
        var split = Run("evaluate", "--model", fixture.ManifestPath, "--streams", file, "--split", "validation", "--out", Path.Combine(fixture.Root, "x"));
        Assert.Equal(1, split.Exit);
        Assert.Contains("--split selects a corpus split", split.Stderr, StringComparison.Ordinal);
        var gate = Run("gate", "--current", fixture.ManifestPath, "--candidate", fixture.ManifestPath);
        Assert.Equal(1, gate.Exit);
        Assert.Contains("an evaluation set is required", gate.Stderr, StringComparison.Ordinal);
        var bad = Run("evaluate", "--model", fixture.ManifestPath, "--streams", Path.Combine(fixture.Root, "missing.json"), "--out", Path.Combine(fixture.Root, "x"));
        Assert.Equal(1, bad.Exit);
        Assert.Contains("missing.json' not found", bad.Stderr, StringComparison.Ordinal);

        // A malformed file through the command: exit 1 and one line naming the file, the stream and the field (the loader's
        // message, EvaluationSetFile_Tests has every case).
        string broken = Path.Combine(fixture.Root, "broken-streams.json");
        string text = File.ReadAllText(file);
        Assert.Contains("\"kind\": \"music\"", text, StringComparison.Ordinal);
        File.WriteAllText(broken, text.Replace("\"kind\": \"music\"", "\"kind\": \"musak\"", StringComparison.Ordinal));
        var malformed = Run("evaluate", "--model", fixture.ManifestPath, "--streams", broken, "--out", Path.Combine(fixture.Root, "x"));
        Assert.Equal(1, malformed.Exit);
        Assert.Matches(@"^edgekws-model: .*broken-streams\.json: streams\[[0-9]+\]\.segments\[[0-9]+\]\.kind 'musak' is unknown", malformed.Stderr);
    }

    [Fact]
    public void Export_streams_writes_the_corpus_split_with_tags_and_segments_and_gate_runs_on_it()
    {
        string file = Path.Combine(fixture.Root, "export", "test-streams.json");
        var (exit, stdout, stderr) = Run("export-streams", "--corpus", fixture.CorpusDirectory, "--split", "test", "--out", file);
        Assert.True(exit == 0, stderr);
        Assert.Contains("2 streams", stdout, StringComparison.Ordinal);

        var fromFile = EvaluationSetFile.Load(file, out string description);
        var fromCorpus = CorpusStreams.Load(fixture.CorpusDirectory, out string corpusDescription);
        Assert.Equal(corpusDescription, description);
        Assert.Equal(fromCorpus.Select(s => (s.Name, Path.GetFullPath(s.WavPath), s.Kind, s.DurationMs)), fromFile.Select(s => (s.Name, Path.GetFullPath(s.WavPath), s.Kind, s.DurationMs)));
        for (int i = 0; i < fromCorpus.Count; i++)
        {
            Assert.Equal(fromCorpus[i].Segments ?? [], fromFile[i].Segments ?? []);
            Assert.Equal(fromCorpus[i].Phrases.Select(p => (p.Phrase, p.StartMs, p.EndMs)), fromFile[i].Phrases.Select(p => (p.Phrase, p.StartMs, p.EndMs)));
            Assert.Equal(fromCorpus[i].Phrases.Select(p => string.Join(';', p.Tags!)), fromFile[i].Phrases.Select(p => string.Join(';', p.Tags!)));
        }

        // The same model against itself on the exported file: promoted, with the group check and the side-by-side rows printed.
        string gateDir = Path.Combine(fixture.Root, "export-gate");
        var gate = Run("gate", "--current", fixture.ManifestPath, "--candidate", fixture.ManifestPath, "--streams", file, "--out", gateDir);
        Assert.True(gate.Exit == 0, gate.Stdout + gate.Stderr);
        Assert.Contains("[pass] no engine or room regresses: ", gate.Stdout, StringComparison.Ordinal);
        Assert.Contains("  FRR by engine", gate.Stdout, StringComparison.Ordinal);
        Assert.Contains("current missed", gate.Stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(gateDir, EvaluationWriter.GateFile)));
        var kinds = doc.RootElement.GetProperty("breakdown").GetProperty("faPerHourByKind");
        Assert.True(kinds.GetArrayLength() >= 2);
        Assert.True(kinds[0].TryGetProperty("candidateFaPerHour", out _));
    }
}
