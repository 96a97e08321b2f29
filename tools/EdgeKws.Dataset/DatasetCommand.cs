using System.CommandLine;
using System.CommandLine.Help;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.Dataset;

/// <summary>
/// <c>edgekws-dataset export|extract|import|align-bench|label-bench</c>: the command tree (System.CommandLine) and the
/// commands' actions. Exit codes as docs/cli.md: 0 ok, 1 failed, 2 usage.
/// </summary>
public static class DatasetCommand
{
    /// <summary>Parses <paramref name="args"/> and runs the command; returns the process exit code (0 ok, 1 failed, 2 usage).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) =>
        ToolCommandLine.Invoke(Create(), args, stdout, stderr);

    /// <summary>The root command with its subcommands; <see cref="Run"/> parses and invokes it.</summary>
    public static Command Create() => new Command("edgekws-dataset", "Training datasets (docs/dataset-format.md) from a generated corpus or imported alignments, and the labeling benchmarks.")
    {
        new HelpOption(),
        ExportCommand(),
        ExtractCommand(),
        ImportCommand.Create(),
        AlignBenchCommand(),
        LabelBenchCommand(),
    };

    private static Option<string> CorpusOption() => new("--corpus") { HelpName = "DIR", Description = "a corpus written by edgekws-corpus (has manifest.json)" };

    private static Command ExportCommand()
    {
        Option<string> corpusOption = CorpusOption();
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "dataset directory (dataset.json, {split}.features.npy, .labels.npy, .lineage.jsonl)" };
        Option<string[]> keywordOption = new("--keyword")
        {
            HelpName = "PHRASE",
            Arity = ArgumentArity.OneOrMore,
            Description = "a keyword class (repeat for several); default: every corpus keyword. Other corpus keywords become background (class 0).",
        };
        Option<int> perMinuteOption = new Option<int>("--stream-windows-per-minute")
        {
            HelpName = "N",
            DefaultValueFactory = _ => 20,
            Description = "random 1 s background windows per minute of negative stream",
        }.MustBe(n => n >= 0, ">= 0");
        Option<int?> trainPerMinuteOption = new Option<int?>("--train-stream-windows-per-minute")
        {
            HelpName = "N",
            Description = "the same for train-split negative streams (training negatives; default: --stream-windows-per-minute)",
        }.MustBe(n => n >= 0, ">= 0");
        Option<double?> endMarginOption = new Option<double?>("--keyword-end-margin-ms")
        {
            HelpName = "M",
            Description = "phrase windows (keywords, near misses, single words) end M ms (0..500) after the phrase instead of being centred on it: "
                + "the model then fires a fixed time after the keyword ends whatever its duration (docs/model-loop.md \"Latency\")",
        }.MustBe(m => m is >= 0 and <= 500, "in 0..500");
        Option<string> withoutEngineOption = new("--train-without-engine")
        {
            HelpName = "E",
            Description = "leave-one-engine-out: drop every train example said by a voice of engine E (espeak, flite, festival), keyword or not, "
                + "incl. train-stream windows that overlap its speech; validation and test keep it",
        };
        var command = new Command("export", "Exports a training dataset from a corpus: keyword windows, background windows from other words and negative streams, speaker-disjoint splits, leakage check.")
        {
            corpusOption, outOption, keywordOption, perMinuteOption, trainPerMinuteOption, endMarginOption, withoutEngineOption,
        };
        command.Requires(corpusOption, outOption);
        command.SetAction(parse => Export(
            parse.GetRequiredValue(corpusOption),
            parse.GetRequiredValue(outOption),
            parse.GetValue(keywordOption) ?? [],
            parse.GetValue(perMinuteOption),
            parse.GetValue(trainPerMinuteOption),
            parse.GetValue(endMarginOption),
            parse.GetValue(withoutEngineOption),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    private static int Export(string corpus, string output, IReadOnlyList<string> keywords, int perMinute, int? trainPerMinute, double? endMargin, string? withoutEngine, TextWriter stdout, TextWriter stderr)
    {
        string manifestPath = Path.Combine(corpus, "manifest.json");
        if (!File.Exists(manifestPath))
        {
            stderr.WriteLine($"edgekws-dataset: '{manifestPath}' not found; --corpus must be a directory written by edgekws-corpus.");
            return 1;
        }

        try
        {
            CorpusManifest manifest = CorpusManifest.Load(manifestPath);
            IReadOnlyList<DatasetExample> examples = CorpusDatasetBuilder.Build(corpus, manifest, keywords.Count > 0 ? keywords : null, out IReadOnlyList<string> classes, perMinute, trainPerMinute, endMargin);
            if (withoutEngine is not null)
            {
                int before = examples.Count;
                examples = CorpusDatasetBuilder.WithoutEngineInTraining(examples, manifest, withoutEngine);
                stdout.WriteLine($"leave-one-engine-out: {before - examples.Count} train examples of {withoutEngine} voices removed");
            }

            DatasetExportResult r = new DatasetExporter().Export(examples, classes, output, [new DatasetSource("corpus", Path.GetFullPath(manifestPath), manifest.GeneratorVersion)], CorpusDatasetBuilder.SplitRule);
            stdout.WriteLine($"dataset {r.DatasetId} -> {output}");
            stdout.WriteLine($"classes: {DatasetExporter.BackgroundClass}, {string.Join(", ", classes)}");
            foreach ((string split, int count) in r.CountsBySplit)
            {
                string byClass = string.Join(", ", r.CountsByClass.Where(c => c.Key.Split == split).OrderBy(c => c.Key.Label, StringComparer.Ordinal).Select(c => $"{c.Key.Label} {c.Value}"));
                stdout.WriteLine($"  {split,-10} {count,6} examples ({byClass})");
            }

            stdout.WriteLine("leakage check: passed (speaker, sourceRecording, augmentedFrom)");
            return 0;
        }
        catch (DatasetLeakageException e)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or System.Text.Json.JsonException)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
    }

    private static Command ExtractCommand()
    {
        Option<string> corpusOption = CorpusOption();
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "output directory: clips/ and review.db" };
        Option<string[]> keywordOption = new("--keyword") { HelpName = "PHRASE", Arity = ArgumentArity.OneOrMore, Description = "a keyword (repeat for several); default: every corpus keyword" };
        var command = new Command("extract", "Aligns every corpus sentence with the built-in aligner (PocketSphinx), cuts 1 s keyword clips, filters them and queues the rest in OUT/review.db; prints accepted/review/rejected.")
        {
            corpusOption, outOption, keywordOption,
        };
        command.Requires(corpusOption, outOption);
        command.SetAction(parse => Extract(
            parse.GetRequiredValue(corpusOption), parse.GetRequiredValue(outOption), parse.GetValue(keywordOption) ?? [],
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }

    private static int Extract(string corpus, string output, IReadOnlyList<string> keywords, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            CorpusManifest manifest = CorpusManifest.Load(Path.Combine(corpus, "manifest.json"));
            Directory.CreateDirectory(output);
            var aligner = EdgeKws.Labeling.Alignment.PocketSphinxAligner.CreateAsync().GetAwaiter().GetResult();
            using var queue = new EdgeKws.Labeling.Review.SqliteReviewQueue(Path.Combine(output, "review.db"));
            var pipeline = new EdgeKws.Labeling.Extraction.KeywordExtractionPipeline(aligner, new EdgeKws.Labeling.Extraction.KeywordClipExtractor(), queue, Path.Combine(output, "clips"));
            var sentences = manifest.Files.Where(f => f.Kind == FileKind.Sentence)
                .Select(f => new EdgeKws.Labeling.Extraction.TranscribedRecording(Path.Combine(corpus, f.Path), f.Path, f.Transcript));
            var counts = pipeline.RunAsync(sentences, keywords.Count > 0 ? keywords : manifest.Options.Keywords).GetAwaiter().GetResult();
            stdout.WriteLine($"aligner: {aligner.ToolVersion}");
            stdout.WriteLine(counts.ToString());
            foreach (var g in queue.Pending(100_000).GroupBy(i => i.Reason.Split(':')[0] + ": " + ReasonKind(i.Reason)).OrderByDescending(g => g.Count()))
            {
                stdout.WriteLine($"  queued {g.Count(),4}  {g.Key}");
            }

            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or InvalidOperationException or System.Text.Json.JsonException)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
    }

    private static Command AlignBenchCommand()
    {
        var defaults = new AlignmentBenchmarkOptions();
        Option<string> corpusOption = CorpusOption();
        Option<string> splitOption = new("--split") { HelpName = "S", Description = "only this split's sentences (default: every split)" };
        Option<int?> limitOption = new Option<int?>("--limit") { HelpName = "N", Description = "at most N sentences" }.MustBe(n => n > 0, "> 0");
        Option<bool> cleanOption = new("--clean") { Description = "align the clean references (corpora made with --clean)" };
        Option<int> parallelOption = new Option<int>("--parallel") { HelpName = "N", DefaultValueFactory = _ => defaults.Parallel, Description = "sentences aligned at once" }.MustBe(n => n > 0, "> 0");
        Option<BoundaryRefinement> refineOption = new("--refine")
        {
            HelpName = "pauses|snap|none",
            DefaultValueFactory = _ => defaults.Aligner.Refinement,
            Description = "word boundary refinement after the decoder",
        };
        Option<string> decoderArgsOption = new("--decoder-args") { HelpName = "ARGS", Description = "the forced pass's decoder arguments instead of the default ones, e.g. \"-beam 1e-80\"" };
        Option<bool> verboseOption = new("--verbose") { Description = "progress on stderr" };
        var command = new Command("align-bench", "Aligns the corpus's sentences (exact word times by construction) and prints the boundary error (median, p90, share within 50 ms) overall, per engine, per room class (far-field corpora) and per SNR, for the aligner's times and the decoder's own. --refine and --decoder-args run a variant (e.g. --refine none --decoder-args \"-beam 1e-80\").")
        {
            corpusOption, splitOption, limitOption, cleanOption, parallelOption, refineOption, decoderArgsOption, verboseOption,
        };
        command.Requires(corpusOption);
        command.SetAction(parse =>
        {
            var aligner = defaults.Aligner with { Refinement = parse.GetValue(refineOption) };
            if (parse.GetValue(decoderArgsOption) is { } decoderArgs)
            {
                aligner = aligner with { ForcedPassArguments = decoderArgs.Split(' ', StringSplitOptions.RemoveEmptyEntries) };
            }

            var options = defaults with
            {
                Split = parse.GetValue(splitOption),
                Limit = parse.GetValue(limitOption),
                Clean = parse.GetValue(cleanOption),
                Parallel = parse.GetValue(parallelOption),
                Aligner = aligner,
            };
            return AlignBench(parse.GetRequiredValue(corpusOption), options, parse.GetValue(verboseOption), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    private static int AlignBench(string corpus, AlignmentBenchmarkOptions options, bool verbose, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            CorpusManifest manifest = CorpusManifest.Load(Path.Combine(corpus, "manifest.json"));
            AlignmentBenchmarkReport report = AlignmentBenchmark.RunAsync(corpus, manifest, options, verbose ? stderr.WriteLine : null).GetAwaiter().GetResult();
            AlignmentBenchmark.Write(report, stdout);
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or InvalidOperationException or System.Text.Json.JsonException or FormatException)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
    }

    private static Command LabelBenchCommand()
    {
        var defaults = new LabelingBenchmarkOptions { ModelManifest = "" };
        Option<string> corpusOption = CorpusOption();
        Option<string> modelOption = new("--model") { HelpName = "MANIFEST", Description = "the device model's manifest (*.int8.manifest.json)" };
        Option<string> verifierOption = new("--verifier") { HelpName = "MANIFEST", Description = "the gateway verifier's manifest: its score is evidence too" };
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "writes label-calibration.json (what the gateway's Labeling:CalibrationPath takes) and label-bench.json" };
        Option<int> perKindOption = new Option<int>("--per-kind") { HelpName = "N", DefaultValueFactory = _ => defaults.PerKind, Description = "clips of each kind per split" }.MustBe(n => n > 0, "> 0");
        Option<int> parallelOption = new Option<int>("--parallel") { HelpName = "N", DefaultValueFactory = _ => defaults.Parallel, Description = "clips labelled at once" }.MustBe(n => n > 0, "> 0");
        Option<double> precisionOption = new Option<double>("--precision") { HelpName = "P", DefaultValueFactory = _ => defaults.Precision, Description = "precision target of decided labels" }
            .MustBe(p => p > 0.5 && p < 1, "in (0.5, 1)");
        Option<string> calibrationSplitOption = new("--calibration-split") { HelpName = "S", DefaultValueFactory = _ => defaults.CalibrationSplit, Description = "split the calibration is fitted on" };
        Option<string> testSplitOption = new("--test-split") { HelpName = "S", DefaultValueFactory = _ => defaults.TestSplit, Description = "split the figures are measured on (other voices and rooms)" };
        Option<string> wakePhraseOption = new("--wake-phrase") { HelpName = "PHRASE", DefaultValueFactory = _ => defaults.WakePhrase, Description = "the wake phrase" };
        Option<bool> verboseOption = new("--verbose") { Description = "progress on stderr" };
        Option<bool> triggersOnlyOption = new("--triggers-only") { Description = "only clips the device model fires on (its manifest threshold), in both splits: the population a gateway labels" };
        var command = new Command("label-bench", "Trigger-like clips of a (far-field) corpus - the wake phrase alone and in sentences, near misses, other speech - through the gateway's labeler: evidence (forced alignment, near-miss competition, the device model's score, --verifier's score), a calibration fitted on --calibration-split and figures on --test-split: precision of decided true and false accepts and review rate per kind, room and engine, for the calibrated labeler and the fixed-rule verifier, and the review rate at several precision targets.")
        {
            corpusOption, modelOption, verifierOption, outOption, perKindOption, parallelOption, precisionOption, calibrationSplitOption, testSplitOption, wakePhraseOption, verboseOption, triggersOnlyOption,
        };
        command.Requires(corpusOption, modelOption);
        command.SetAction(parse =>
        {
            var options = defaults with
            {
                ModelManifest = parse.GetRequiredValue(modelOption),
                VerifierManifest = parse.GetValue(verifierOption),
                PerKind = parse.GetValue(perKindOption),
                Parallel = parse.GetValue(parallelOption),
                Precision = parse.GetValue(precisionOption),
                CalibrationSplit = parse.GetRequiredValue(calibrationSplitOption),
                TestSplit = parse.GetRequiredValue(testSplitOption),
                WakePhrase = parse.GetRequiredValue(wakePhraseOption),
                TriggersOnly = parse.GetValue(triggersOnlyOption),
            };
            return LabelBench(parse.GetRequiredValue(corpusOption), options, parse.GetValue(outOption), parse.GetValue(verboseOption), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    private static int LabelBench(string corpus, LabelingBenchmarkOptions options, string? output, bool verbose, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            CorpusManifest manifest = CorpusManifest.Load(Path.Combine(corpus, "manifest.json"));
            LabelingBenchmarkReport report = LabelingBenchmark.RunAsync(corpus, manifest, options, verbose ? stderr.WriteLine : null).GetAwaiter().GetResult();
            LabelingBenchmark.Write(report, stdout);
            if (output is not null)
            {
                LabelingBenchmark.Save(report, output);
                stdout.WriteLine($"wrote {Path.Combine(output, "label-calibration.json")} and label-bench.json");
            }
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or InvalidOperationException or System.Text.Json.JsonException or FormatException)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
    }

    private static string ReasonKind(string reason) =>
        reason.Contains("SNR", StringComparison.Ordinal) ? "SNR" :
        reason.Contains("clipping", StringComparison.Ordinal) ? "clipping" :
        reason.Contains("confidence", StringComparison.Ordinal) ? "alignment confidence" :
        reason.Contains("word lasts", StringComparison.Ordinal) ? "word duration" :
        reason.Contains("not aligned", StringComparison.Ordinal) ? "no alignment" : "other";
}
