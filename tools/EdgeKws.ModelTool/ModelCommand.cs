using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using EdgeKws.Detection;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.ModelTool;

/// <summary>
/// <c>edgekws-model build-int8 | evaluate | gate | export-streams | ensemble</c>: the command tree (System.CommandLine) and the actions.
/// Exit codes: 0 ok / promoted, 1 failed, 2 usage, 3 refused by the gate (docs/cli.md).
/// </summary>
public static class ModelCommand
{
    /// <summary>Exit code of <c>gate</c> when the candidate is refused (0 = promoted).</summary>
    public const int Refused = 3;

    /// <summary>Parses <paramref name="args"/> and runs the command; returns the process exit code.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) =>
        ToolCommandLine.Invoke(Create(), args, stdout, stderr);

    /// <summary>The root command with its subcommands; <see cref="Run"/> parses and invokes it.</summary>
    public static Command Create() => new Command("edgekws-model", "INT8 build, streaming evaluation (FA/hour, FRR, DET) and the promotion gate over a generated corpus or an edgekws-streams/1 file. Exit codes: 0 ok / promoted, 1 failed, 2 usage, 3 refused by the gate.")
    {
        new HelpOption(),
        BuildInt8Command(),
        EvaluateCommand(),
        GateCommand(),
        ExportStreamsCommand(),
        EnsembleCommand(),
    };

    /// <summary>Runs an action; the failures it expects (bad input files, a wrong evaluation set) print one line and exit 1.</summary>
    private static int Guarded(ParseResult parse, Func<TextWriter, int> action)
    {
        try
        {
            return action(parse.InvocationConfiguration.Output);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or InvalidOperationException
                                      or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            parse.InvocationConfiguration.Error.WriteLine("edgekws-model: " + e.Message);
            return 1;
        }
    }

    private static Option<double?> Number(string name, string helpName, string description) =>
        new Option<double?>(name) { HelpName = helpName, Description = description }.MustBe(d => d is { } v && double.IsFinite(v), "a finite number");

    private static Option<string> CorpusOption() => new("--corpus") { HelpName = "DIR", Description = "a generated corpus (edgekws-corpus): its --split's streams" };

    private static Option<string> SplitOption() => new("--split") { HelpName = "test|validation|train", Description = "the corpus split (default test)" };

    private static Option<string> StreamsOption() => new("--streams") { HelpName = "FILE", Description = "an edgekws-streams/1 file (edgekws-model export-streams); instead of --corpus" };

    private static Option<double> ToleranceOption() =>
        new Option<double>("--tolerance-ms") { HelpName = "MS", DefaultValueFactory = _ => 1000, Description = "a detection counts for a keyword within this time of it" }
            .MustBe(double.IsFinite, "a finite number");

    private static Command BuildInt8Command()
    {
        var defaults = new Int8BuildOptions { ModelId = "", ModelVersion = "" };
        Option<string> floatOption = new("--float") { HelpName = "model.float.onnx", Description = "the trained float model (required without --from-int8)" };
        Option<string> fromInt8Option = new("--from-int8") { HelpName = "parent.int8.manifest.json", Description = "field re-calibration of a shipped INT8 model: weights kept, activation ranges from --dataset (every split); parent = that model" };
        Option<string> trainingOption = new("--training-manifest") { HelpName = "training-manifest.json", Description = "the trainer's manifest (required without --from-int8; with it default: the parent's, beside it)" };
        Option<string> datasetOption = new("--dataset") { HelpName = "DIR", Description = "calibration dataset (edgekws-dataset/1)" };
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "writes ID-V.int8.onnx, .manifest.json, .quantization-report.json" };
        Option<string> idOption = new("--id") { HelpName = "ID", Description = "model id (required without --from-int8; with it default: the parent's)" };
        Option<string> versionOption = new("--version") { HelpName = "V", Description = "model version (required without --from-int8; with it default MAJOR.MINOR.(PATCH+1)-field.1)" };
        Option<string> parentOption = new("--parent") { HelpName = "V", Description = "parent version (not with --from-int8: the parent is that model)" };
        Option<DateTimeOffset?> createdOption = new("--created")
        {
            HelpName = "2026-01-01T00:00:00Z",
            Description = "creation time in the manifest (default: now)",
            CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset t))
                {
                    return t;
                }

                result.AddError($"--created must be an ISO 8601 time (got '{value}').");
                return null;
            },
        };
        Option<CalibrationMethod> methodOption = new("--method")
        {
            HelpName = "percentile|minmax",
            DefaultValueFactory = _ => defaults.Method,
            Description = "activation range calibration",
            CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                switch (value.ToLowerInvariant())
                {
                    case "percentile": return CalibrationMethod.Percentile;
                    case "minmax": return CalibrationMethod.MinMax;
                    default:
                        result.AddError($"--method must be percentile or minmax (got '{value}').");
                        return default;
                }
            },
        };
        Option<double> percentileOption = new Option<double>("--percentile") { HelpName = "P", DefaultValueFactory = _ => defaults.Percentile, Description = "percentile of the percentile method" }
            .MustBe(double.IsFinite, "a finite number");
        Option<double?> thresholdOption = Number("--threshold", "X", "the deployed threshold written in the manifest (default: the training manifest's suggestion)");
        var command = new Command("build-int8", "Static INT8 QDQ quantization (Int8ModelBuilder): writes ID-V.int8.onnx, .manifest.json, .quantization-report.json. --from-int8: field re-calibration of a shipped INT8 model; the training manifest (the parent's with the calibration dataset) is written as ID-V.training-manifest.json.")
        {
            floatOption, fromInt8Option, trainingOption, datasetOption, outOption, idOption, versionOption, parentOption, createdOption, methodOption, percentileOption, thresholdOption,
        };
        command.Requires(datasetOption, outOption);
        command.Validators.Add(result =>
        {
            if (result.GetResult(fromInt8Option) is not null)
            {
                foreach (Option notWith in new Option[] { floatOption, parentOption })
                {
                    if (result.GetResult(notWith) is not null)
                    {
                        result.AddError($"{notWith.Name} does not apply with --from-int8.");
                    }
                }

                return;
            }

            foreach (Option required in new Option[] { floatOption, trainingOption, idOption, versionOption })
            {
                if (result.GetResult(required) is null)
                {
                    result.AddError($"{required.Name} is required (without --from-int8).");
                }
            }
        });
        command.SetAction(parse => Guarded(parse, stdout => BuildInt8(
            parse.GetValue(floatOption), parse.GetValue(fromInt8Option), parse.GetValue(trainingOption), parse.GetRequiredValue(datasetOption), parse.GetRequiredValue(outOption),
            parse.GetValue(idOption), parse.GetValue(versionOption), defaults with
            {
                ParentVersion = parse.GetValue(parentOption),
                CreatedUtc = parse.GetValue(createdOption),
                Method = parse.GetValue(methodOption),
                Percentile = parse.GetValue(percentileOption),
                Threshold = parse.GetValue(thresholdOption) is { } th ? (float)th : null,
            }, stdout)));
        return command;
    }

    private static int BuildInt8(string? floatModel, string? parentManifest, string? training, string dataset, string output, string? id, string? version, Int8BuildOptions options, TextWriter stdout)
    {
        if (parentManifest is not null)
        {
            if (!File.Exists(parentManifest)) throw new ArgumentException($"--from-int8: {parentManifest} does not exist (give the model's .int8.manifest.json)");
            if (!EdgeKws.Detection.ModelManifest.TryParse(File.ReadAllBytes(parentManifest), out EdgeKws.Detection.ModelManifest? parent, out string why))
                throw new ArgumentException($"--from-int8: {parentManifest}: {why}");
            id ??= parent!.ModelId ?? throw new ArgumentException("--id is required (the parent manifest has no modelId)");
            version ??= Int8ModelBuilder.FieldVersion(parent!.ModelVersion ?? "");
            options = options with { ModelId = id, ModelVersion = version };
            training ??= parentManifest.Replace(".int8.manifest.json", ".training-manifest.json", StringComparison.Ordinal);
            if (training == parentManifest || !File.Exists(training))
                throw new ArgumentException($"--from-int8: no training manifest beside {parentManifest} ({training}); give --training-manifest");
            var rr = Int8ModelBuilder.Recalibrate(parentManifest, training, dataset, output, options);
            stdout.WriteLine($"{rr.ModelFile}: {version}, re-calibrated from {rr.RecalibratedFrom} on dataset {rr.DatasetId}: {rr.Int8SizeBytes} bytes INT8, {rr.Method}, {rr.CalibrationWindows} calibration windows");
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{rr.EvaluationSplit} windows {rr.EvaluationWindows}: recovered float acc {rr.FloatAccuracy:0.0000}, int8 acc {rr.Int8Accuracy:0.0000}, arg-max agreement {rr.ArgMaxAgreement:P2}, mean |dp| {rr.MeanAbsPosteriorDifference:0.0000}"));
            stdout.WriteLine($"manifest: {Path.Combine(output, rr.ManifestFile)}");
            stdout.WriteLine($"training manifest: {Int8ModelBuilder.TrainingManifestPath(output, id, version)}");
            return 0;
        }

        // Without --from-int8 the command's validator made --float, --training-manifest, --id and --version required.
        options = options with { ModelId = id!, ModelVersion = version! };
        var r = Int8ModelBuilder.Build(floatModel!, training!, dataset, output, options);
        stdout.WriteLine($"{r.ModelFile}: {r.Int8SizeBytes} bytes INT8 (float {r.FloatSizeBytes}), {r.Method}, {r.CalibrationWindows} calibration windows");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.EvaluationSplit} windows {r.EvaluationWindows}: float acc {r.FloatAccuracy:0.0000}, int8 acc {r.Int8Accuracy:0.0000}, arg-max agreement {r.ArgMaxAgreement:P2}, mean |dp| {r.MeanAbsPosteriorDifference:0.0000}"));
        stdout.WriteLine($"manifest: {Path.Combine(output, r.ManifestFile)}");
        return 0;
    }

    /// <summary>The streams of <c>--corpus DIR</c> (its <c>--split</c>, default test) or of <c>--streams FILE</c>: exactly one of them.</summary>
    /// <remarks>A wrong choice is exit 1, not 2: ModelCommand_Tests and the gateway's model jobs rely on it.</remarks>
    private static IReadOnlyList<EvaluationStream> Streams(string? corpus, string? file, string? split, out string description)
    {
        if ((corpus is null) == (file is null))
            throw new ArgumentException(corpus is not null
                ? "--corpus and --streams are mutually exclusive: give one evaluation set"
                : "an evaluation set is required: --corpus DIR (a generated corpus) or --streams FILE (an edgekws-streams/1 file)");
        if (file is not null)
        {
            if (split is not null) throw new ArgumentException("--split selects a corpus split; it does not apply to --streams");
            return EvaluationSetFile.Load(file, out description);
        }
        return CorpusStreams.Load(corpus!, split ?? EdgeKws.Corpus.Speakers.CorpusSplit.Test, out description);
    }

    private static Command EvaluateCommand()
    {
        Option<string> modelOption = new("--model") { HelpName = "M.manifest.json", Description = "the model's manifest" };
        Option<string> corpusOption = CorpusOption();
        Option<string> splitOption = SplitOption();
        Option<string> streamsOption = StreamsOption();
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "writes evaluation.json, det.csv, det.png" };
        Option<double?> thresholdOption = Number("--threshold", "X", "the threshold (default: the manifest's)");
        Option<double> toleranceOption = ToleranceOption();
        Option<long> maxBytesOption = new Option<long>("--max-model-bytes")
        {
            HelpName = "N",
            DefaultValueFactory = _ => KeywordModel.DefaultMaxModelBytes,
            Description = "largest model file accepted (default the device's 64 KB budget; more for a gateway-side model such as the labeler's verifier)",
        }.MustBe(n => n > 0, "a positive number of bytes");
        var command = new Command("evaluate", "Runs the device front end and detector over the corpus's test streams (or an edgekws-streams/1 file): FA/hour, FRR at the deployed threshold, DET curve; writes evaluation.json, det.csv, det.png. Prints the breakdown: FRR with its Wilson 95 % interval by engine, room, SNR (and voice), FA/hour with its exact Poisson 95 % interval by kind of negative audio. --split validation evaluates the validation streams instead (to choose a threshold without touching the test streams).")
        {
            modelOption, corpusOption, splitOption, streamsOption, outOption, thresholdOption, toleranceOption, maxBytesOption,
        };
        command.Requires(modelOption, outOption);
        command.SetAction(parse => Guarded(parse, stdout =>
        {
            string output = parse.GetRequiredValue(outOption);
            var streams = Streams(parse.GetValue(corpusOption), parse.GetValue(streamsOption), parse.GetValue(splitOption), out string description);
            var options = new StreamingEvaluationOptions
            {
                ToleranceMs = parse.GetValue(toleranceOption),
                Threshold = parse.GetValue(thresholdOption) is { } t ? (float)t : null,
                EvaluationSet = description,
                MaxModelBytes = parse.GetValue(maxBytesOption),
            };
            var e = StreamingEvaluator.Evaluate(parse.GetRequiredValue(modelOption), streams, options);
            EvaluationWriter.Write(e, output);
            Print(e.Report, stdout);
            if (e.Report.Breakdown is { } b) stdout.Write(BreakdownPrinter.Format(b));
            stdout.WriteLine($"wrote {Path.Combine(output, EvaluationWriter.ReportFile)}, {EvaluationWriter.CurveFile}, {EvaluationWriter.PlotFile}");
            return 0;
        }));
        return command;
    }

    private static Command EnsembleCommand()
    {
        Option<string[]> memberOption = new("--member")
        {
            HelpName = "model.float.onnx",
            Description = "a member model (repeat; at least two, same input and output)",
            AllowMultipleArgumentsPerToken = false,
        };
        Option<string> outOption = new("--out") { HelpName = "FILE", Description = "the ensemble's ONNX file to write" };
        var command = new Command("ensemble", "Joins keyword models of the same input and output into one ONNX model whose output is the mean of their posteriors (the gateway verifier, docs/labeling.md).")
        {
            memberOption, outOption,
        };
        command.Requires(memberOption, outOption);
        command.SetAction(parse => Guarded(parse, stdout =>
        {
            string[] paths = parse.GetRequiredValue(memberOption);
            var members = paths.Select(File.ReadAllBytes).ToArray();
            byte[] ensemble = EdgeKws.ModelLoop.Onnx.OnnxEnsemble.Compose(members);
            string output = parse.GetRequiredValue(outOption);
            string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null) Directory.CreateDirectory(dir);
            File.WriteAllBytes(output, ensemble);
            for (int i = 0; i < paths.Length; i++)
            {
                stdout.WriteLine($"member m{i}/: {paths[i]} ({members[i].Length} B, sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(members[i]))})");
            }
            stdout.WriteLine($"wrote {output}: mean of {paths.Length} members, {ensemble.Length} B, sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(ensemble))}");
            return 0;
        }));
        return command;
    }

    private static Command ExportStreamsCommand()
    {
        Option<string> corpusOption = CorpusOption();
        Option<string> splitOption = SplitOption();
        Option<string> outOption = new("--out") { HelpName = "FILE", Description = "the edgekws-streams/1 file to write" };
        var command = new Command("export-streams", "Writes a corpus split's streams as an edgekws-streams/1 file (tags: engine, voice, room, snr, microphone, noise; segments of the negative streams), for the gateway's model jobs and --streams.")
        {
            corpusOption, splitOption, outOption,
        };
        command.Requires(corpusOption, outOption);
        command.SetAction(parse => Guarded(parse, stdout =>
        {
            string output = parse.GetRequiredValue(outOption);
            var streams = CorpusStreams.Load(parse.GetRequiredValue(corpusOption), parse.GetValue(splitOption) ?? EdgeKws.Corpus.Speakers.CorpusSplit.Test, out string description);
            string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null) Directory.CreateDirectory(dir);
            EvaluationSetFile.Write(output, streams, description);
            int keywords = streams.Sum(s => s.Phrases.Count);
            int segments = streams.Sum(s => s.Segments?.Count ?? 0);
            stdout.WriteLine($"wrote {output}: {streams.Count} streams, {keywords} phrases with tags, {segments} negative-stream segments ({description})");
            return 0;
        }));
        return command;
    }

    private static Command GateCommand()
    {
        Option<string> currentOption = new("--current") { HelpName = "A.manifest.json", Description = "the model in production" };
        Option<string> candidateOption = new("--candidate") { HelpName = "B.manifest.json", Description = "the model that would replace it" };
        Option<string> corpusOption = new("--corpus") { HelpName = "DIR", Description = "a generated corpus (edgekws-corpus): its test streams" };
        Option<string> streamsOption = StreamsOption();
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "writes gate.json and its plot" };
        Option<double?> faMarginOption = Number("--fa-margin", "FA_PER_HOUR", "FA/hour the candidate may add (default: one false accept over the evaluated hours)");
        Option<double?> frrMarginOption = Number("--frr-margin", "FRACTION", "FRR the candidate may add (default: max(1 %, one keyword))");
        Option<double> toleranceOption = ToleranceOption();
        var command = new Command("gate", "Evaluates both models on the same streams and decides promotion; exit 0 promote, 3 refuse. No engine or room group of >= 20 keywords may miss more than max(2, 10 % of its keywords) extra.")
        {
            currentOption, candidateOption, corpusOption, streamsOption, outOption, faMarginOption, frrMarginOption, toleranceOption,
        };
        command.Requires(currentOption, candidateOption);
        command.SetAction(parse => Guarded(parse, stdout =>
        {
            var streams = Streams(parse.GetValue(corpusOption), parse.GetValue(streamsOption), null, out string description);
            var options = new StreamingEvaluationOptions { ToleranceMs = parse.GetValue(toleranceOption), EvaluationSet = description };
            var current = StreamingEvaluator.Evaluate(parse.GetRequiredValue(currentOption), streams, options);
            var candidate = StreamingEvaluator.Evaluate(parse.GetRequiredValue(candidateOption), streams, options);
            var gate = PromotionGate.Decide(current, candidate, new GateMargins { FaPerHour = parse.GetValue(faMarginOption), FalseRejectRate = parse.GetValue(frrMarginOption) });
            stdout.Write("current:   ");
            Print(current.Report, stdout);
            stdout.Write("candidate: ");
            Print(candidate.Report, stdout);
            if (gate.Breakdown is { } b) stdout.Write(BreakdownPrinter.FormatGate(b));
            foreach (var c in gate.Checks) stdout.WriteLine($"  [{(c.Passed ? "pass" : "FAIL")}] {c.Name}: {c.Detail}");
            stdout.WriteLine(gate.Summary);
            if (parse.GetValue(outOption) is { } dir)
            {
                EvaluationWriter.WriteGate(gate, current, candidate, dir);
                stdout.WriteLine($"wrote {Path.Combine(dir, EvaluationWriter.GateFile)}, {EvaluationWriter.GatePlotFile}");
            }
            return gate.Promote ? 0 : Refused;
        }));
        return command;
    }

    private static void Print(EvaluationReport r, TextWriter stdout)
    {
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.ModelId} {r.ModelVersion} '{r.Keyword}' at threshold {r.Threshold:0.####}: {r.FaPerHour:0.###} FA/hour ({r.FalseAccepts} in {r.NegativeHours:0.###} h; resolution {r.FaPerHourResolution:0.###}), FRR {r.FalseRejectRate * 100:0.##} % ({r.MissedKeywords}/{r.Keywords} missed)"));
        if (r.KeywordEndToEvent is { } l)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  keyword end to event (audio time, {l.Count} detected keywords): p50 {l.P50Ms:0} ms, p90 {l.P90Ms:0} ms, p99 {l.P99Ms:0} ms, max {l.MaxMs:0} ms"));
        }
    }
}
