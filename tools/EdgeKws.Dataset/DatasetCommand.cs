using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Dataset;

namespace EdgeKws.Dataset;

/// <summary><c>edgekws-dataset export --corpus DIR --out DIR [--keyword "hey edge"]...</c>: parse and run.</summary>
public static class DatasetCommand
{
    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage: edgekws-dataset export --corpus DIR --out DIR [--keyword "hey edge"]... [--stream-windows-per-minute N]
                                      [--train-stream-windows-per-minute N] [--keyword-end-margin-ms M]
               edgekws-dataset extract --corpus DIR --out DIR [--keyword "hey edge"]...
               edgekws-dataset import --alignments DIR --audio DIR --keyword PHRASE... --out DIR [import options]
               edgekws-dataset align-bench --corpus DIR [--split S] [--limit N] [--clean] [--parallel N]
                                      [--refine pauses|snap|none] [--decoder-args "ARGS"] [--verbose]
               edgekws-dataset label-bench --corpus DIR --model MANIFEST [--verifier MANIFEST] [--out DIR] [--per-kind N] [--precision P]
                                      [--calibration-split S] [--test-split S] [--parallel N] [--verbose]

          extract: aligns every corpus sentence with the built-in aligner (PocketSphinx), cuts 1 s keyword
                   clips, filters them and queues the rest in OUT/review.db; prints accepted/review/rejected.
          import:  reads word alignments (MFA TextGrid long/short, Kaldi CTM, CSV/JSON word tables), pairs each
                   with its audio, cuts 1 s keyword clips with the quality filters and writes a dataset plus
                   OUT/review.db of what was rejected; 'edgekws-dataset import --help' lists its options.
          align-bench: aligns the corpus's sentences (exact word times by construction) and prints the
                   boundary error (median, p90, share within 50 ms) overall, per engine, per room class
                   (far-field corpora) and per SNR, for the aligner's times and the decoder's own.
                   --clean aligns the clean references (corpora made with --clean); --refine and
                   --decoder-args run a variant (e.g. --refine none --decoder-args "-beam 1e-80").

          label-bench: trigger-like clips of a (far-field) corpus - the wake phrase alone and in sentences, near
                   misses, other speech - through the gateway's labeler: evidence (forced alignment, near-miss
                   competition, the device model's score, --verifier's score), a calibration fitted on --calibration-split
                   (validation) and figures on --test-split (test: other voices and rooms): precision of decided
                   true and false accepts and review rate per kind, room and engine, for the calibrated labeler
                   and the fixed-rule verifier, and the review rate at several precision targets. --out writes
                   label-calibration.json (what the gateway's Labeling:CalibrationPath takes) and label-bench.json.

          --corpus DIR                 a corpus written by edgekws-corpus (has manifest.json)
          --out DIR                    dataset directory (dataset.json, {split}.features.npy, .labels.npy, .lineage.jsonl)
          --keyword PHRASE             a keyword class (repeat for several); default: every corpus keyword.
                                       Other corpus keywords become background (class 0).
          --stream-windows-per-minute  random 1 s background windows per minute of negative stream (default 20)
          --train-stream-windows-per-minute  the same for train-split negative streams (training negatives;
                                       default: --stream-windows-per-minute)
          --keyword-end-margin-ms M    phrase windows (keywords, near misses, single words) end M ms (0..500) after the
                                       phrase instead of being centred on it: the model then fires a fixed time after the
                                       keyword ends whatever its duration (docs/model-loop.md "Latency")
          --train-without-engine E     leave-one-engine-out: drop every train example said by a voice of engine E
                                       (espeak, flite, festival), keyword or not, incl. train-stream windows that
                                       overlap its speech; validation and test keep it
        """;

    /// <summary>Runs the command; returns the process exit code (0 ok, 1 failed, 2 usage).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count > 0 && args[0] == "extract")
        {
            return RunExtract(args, stdout, stderr);
        }

        if (args.Count > 0 && args[0] == "align-bench")
        {
            return RunAlignBench(args, stdout, stderr);
        }

        if (args.Count > 0 && args[0] == "label-bench")
        {
            return RunLabelBench(args, stdout, stderr);
        }

        if (args.Count > 0 && args[0] == "import")
        {
            return ImportCommand.Run(args, stdout, stderr);
        }

        if (args.Count == 0 || args[0] != "export")
        {
            stderr.WriteLine(args.Count == 0 ? "edgekws-dataset: no command; the commands are export, extract, import, align-bench, label-bench." : $"edgekws-dataset: unknown command '{args[0]}'; the commands are export, extract, import, align-bench, label-bench.");
            stderr.WriteLine(Usage);
            return 2;
        }

        string? corpus = null, output = null;
        var keywords = new List<string>();
        int perMinute = 20;
        int? trainPerMinute = null;
        string? withoutEngine = null;
        double? endMargin = null;
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            string? value = i + 1 < args.Count ? args[i + 1] : null;
            if (value is null)
            {
                stderr.WriteLine($"edgekws-dataset: {a} needs a value.");
                return 2;
            }

            switch (a)
            {
                case "--corpus": corpus = value; break;
                case "--out": output = value; break;
                case "--keyword": keywords.Add(value); break;
                case "--stream-windows-per-minute" when int.TryParse(value, out int n) && n >= 0: perMinute = n; break;
                case "--train-stream-windows-per-minute" when int.TryParse(value, out int n) && n >= 0: trainPerMinute = n; break;
                case "--train-without-engine": withoutEngine = value; break;
                case "--keyword-end-margin-ms" when double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double m) && m is >= 0 and <= 500: endMargin = m; break;
                default:
                    stderr.WriteLine($"edgekws-dataset: unknown option or bad value '{a} {value}'.");
                    stderr.WriteLine(Usage);
                    return 2;
            }

            i++;
        }

        if (corpus is null || output is null)
        {
            stderr.WriteLine("edgekws-dataset: --corpus and --out are required.");
            stderr.WriteLine(Usage);
            return 2;
        }

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

    private static int RunExtract(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? corpus = null, output = null;
        var keywords = new List<string>();
        for (int i = 1; i + 1 < args.Count; i += 2)
        {
            switch (args[i])
            {
                case "--corpus": corpus = args[i + 1]; break;
                case "--out": output = args[i + 1]; break;
                case "--keyword": keywords.Add(args[i + 1]); break;
                default:
                    stderr.WriteLine($"edgekws-dataset: unknown option '{args[i]}'.");
                    return 2;
            }
        }

        if (corpus is null || output is null || args.Count % 2 == 0)
        {
            stderr.WriteLine("edgekws-dataset: extract needs --corpus DIR --out DIR.");
            stderr.WriteLine(Usage);
            return 2;
        }

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

    private static int RunAlignBench(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? corpus = null;
        var options = new AlignmentBenchmarkOptions();
        var aligner = new EdgeKws.Labeling.Alignment.PocketSphinxAlignerOptions();
        bool verbose = false;
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            if (a is "--clean" or "--verbose")
            {
                options = a == "--clean" ? options with { Clean = true } : options;
                verbose |= a == "--verbose";
                continue;
            }

            string? value = i + 1 < args.Count ? args[++i] : null;
            switch (a)
            {
                case "--corpus" when value is not null: corpus = value; break;
                case "--split" when value is not null: options = options with { Split = value }; break;
                case "--limit" when int.TryParse(value, out int n) && n > 0: options = options with { Limit = n }; break;
                case "--parallel" when int.TryParse(value, out int n) && n > 0: options = options with { Parallel = n }; break;
                case "--refine" when Enum.TryParse(value, ignoreCase: true, out EdgeKws.Labeling.Alignment.BoundaryRefinement r): aligner = aligner with { Refinement = r }; break;
                case "--decoder-args" when value is not null: aligner = aligner with { ForcedPassArguments = value.Split(' ', StringSplitOptions.RemoveEmptyEntries) }; break;
                default:
                    stderr.WriteLine($"edgekws-dataset: align-bench: unknown option or bad value '{a} {value}'.");
                    stderr.WriteLine(Usage);
                    return 2;
            }
        }

        if (corpus is null)
        {
            stderr.WriteLine("edgekws-dataset: align-bench needs --corpus DIR.");
            return 2;
        }

        try
        {
            CorpusManifest manifest = CorpusManifest.Load(Path.Combine(corpus, "manifest.json"));
            AlignmentBenchmarkReport report = AlignmentBenchmark.RunAsync(corpus, manifest, options with { Aligner = aligner }, verbose ? stderr.WriteLine : null).GetAwaiter().GetResult();
            AlignmentBenchmark.Write(report, stdout);
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or InvalidOperationException or System.Text.Json.JsonException or FormatException)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
    }

    private static int RunLabelBench(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? corpus = null, model = null, output = null;
        var options = new LabelingBenchmarkOptions { ModelManifest = "" };
        bool verbose = false;
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--verbose")
            {
                verbose = true;
                continue;
            }

            string? value = i + 1 < args.Count ? args[++i] : null;
            switch (a)
            {
                case "--corpus" when value is not null: corpus = value; break;
                case "--model" when value is not null: model = value; break;
                case "--verifier" when value is not null: options = options with { VerifierManifest = value }; break;
                case "--out" when value is not null: output = value; break;
                case "--per-kind" when int.TryParse(value, out int n) && n > 0: options = options with { PerKind = n }; break;
                case "--parallel" when int.TryParse(value, out int n) && n > 0: options = options with { Parallel = n }; break;
                case "--precision" when double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double p) && p > 0.5 && p < 1:
                    options = options with { Precision = p }; break;
                case "--calibration-split" when value is not null: options = options with { CalibrationSplit = value }; break;
                case "--test-split" when value is not null: options = options with { TestSplit = value }; break;
                case "--wake-phrase" when value is not null: options = options with { WakePhrase = value }; break;
                default:
                    stderr.WriteLine($"edgekws-dataset: label-bench: unknown option or bad value '{a} {value}' (--precision takes a value in (0.5, 1)).");
                    stderr.WriteLine(Usage);
                    return 2;
            }
        }

        if (corpus is null || model is null)
        {
            stderr.WriteLine("edgekws-dataset: label-bench needs --corpus DIR and --model MANIFEST.");
            return 2;
        }

        try
        {
            CorpusManifest manifest = CorpusManifest.Load(Path.Combine(corpus, "manifest.json"));
            LabelingBenchmarkReport report = LabelingBenchmark.RunAsync(corpus, manifest, options with { ModelManifest = model }, verbose ? stderr.WriteLine : null).GetAwaiter().GetResult();
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
