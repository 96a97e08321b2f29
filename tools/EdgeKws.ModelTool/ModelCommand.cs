using System.Globalization;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;

namespace EdgeKws.ModelTool;

/// <summary><c>edgekws-model build-int8 | evaluate | gate | export-streams</c>: parse and run.</summary>
public static class ModelCommand
{
    /// <summary>Exit code of <c>gate</c> when the candidate is refused (0 = promoted).</summary>
    public const int Refused = 3;

    public const string Usage = """
        usage: edgekws-model build-int8 --float model.float.onnx --training-manifest training-manifest.json --dataset DIR --out DIR
                                        --id ID --version V [--parent V] [--created 2026-01-01T00:00:00Z]
                                        [--method percentile|minmax] [--percentile 99.99] [--threshold X]
               edgekws-model build-int8 --from-int8 parent.int8.manifest.json --dataset DIR --out DIR
                                        [--training-manifest parent.training-manifest.json] [--id ID] [--version V] [--created T]
                                        [--method percentile|minmax] [--percentile 99.99] [--threshold X]
               edgekws-model evaluate --model M.manifest.json (--corpus DIR [--split test|validation|train] | --streams FILE) --out DIR
                                      [--threshold X] [--tolerance-ms 1000]
               edgekws-model gate --current A.manifest.json --candidate B.manifest.json (--corpus DIR | --streams FILE) [--out DIR]
                                  [--fa-margin FA_PER_HOUR] [--frr-margin FRACTION] [--tolerance-ms 1000]
               edgekws-model export-streams --corpus DIR --out FILE [--split test|validation|train]

          build-int8  static INT8 QDQ quantization (Int8ModelBuilder): writes ID-V.int8.onnx, .manifest.json, .quantization-report.json
                      --from-int8: field re-calibration of a shipped INT8 model (weights kept, activation ranges from --dataset,
                      every split); parent = that model, training manifest = the parent's (default: beside it) with the
                      calibration dataset, written as ID-V.training-manifest.json; version default MAJOR.MINOR.(PATCH+1)-field.1
          evaluate    runs the device front end and detector over the corpus's test streams (or an edgekws-streams/1 file):
                      FA/hour, FRR at the deployed threshold, DET curve; writes evaluation.json, det.csv, det.png. Prints the
                      breakdown: FRR with its Wilson 95 % interval by engine, room, SNR (and voice), FA/hour with its exact
                      Poisson 95 % interval by kind of negative audio. --split validation evaluates the validation streams
                      instead (to choose a threshold without touching the test streams)
          gate        evaluates both models on the same streams and decides promotion; exit 0 promote, 3 refuse
                      (default margins: one false accept over the evaluated hours; max(1 %, one keyword) of FRR; no engine or
                      room group of >= 20 keywords may miss more than max(2, 10 % of its keywords) extra)
          export-streams  writes a corpus split's streams as an edgekws-streams/1 file (tags: engine, voice, room, snr,
                      microphone, noise; segments of the negative streams), for the gateway's model jobs and --streams
        exit codes: 0 ok / promoted, 1 failed, 2 usage, 3 refused by the gate
        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0)
        {
            stderr.WriteLine("edgekws-model: no command; commands are build-int8, evaluate, gate, export-streams.");
            return 2;
        }
        if (!TryParseOptions(args, out var o, out string error))
        {
            stderr.WriteLine("edgekws-model: " + error);
            stderr.WriteLine(Usage);
            return 2;
        }
        try
        {
            return args[0] switch
            {
                "build-int8" => BuildInt8(o, stdout, stderr),
                "evaluate" => Evaluate(o, stdout, stderr),
                "gate" => Gate(o, stdout, stderr),
                "export-streams" => ExportStreams(o, stdout),
                _ => UnknownCommand(args[0], stderr),
            };
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or InvalidOperationException
                                      or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            stderr.WriteLine("edgekws-model: " + e.Message);
            return 1;
        }
    }

    private static int UnknownCommand(string command, TextWriter stderr)
    {
        stderr.WriteLine($"edgekws-model: unknown command '{command}'; commands are build-int8, evaluate, gate, export-streams.");
        return 2;
    }

    private static bool TryParseOptions(IReadOnlyList<string> args, out Dictionary<string, string> options, out string error)
    {
        options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Count; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                error = $"expected an option, got '{args[i]}'";
                return false;
            }
            if (i + 1 >= args.Count)
            {
                error = $"{args[i]} needs a value";
                return false;
            }
            options[args[i][2..]] = args[i + 1];
        }
        error = "";
        return true;
    }

    private static string Required(Dictionary<string, string> o, string name) =>
        o.TryGetValue(name, out string? v) ? v : throw new ArgumentException($"--{name} is required");

    private static double? Number(Dictionary<string, string> o, string name)
    {
        if (!o.TryGetValue(name, out string? v)) return null;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !double.IsFinite(d))
            throw new ArgumentException($"--{name} must be a number, got '{v}'");
        return d;
    }

    private static void Reject(Dictionary<string, string> o, params string[] allowed)
    {
        foreach (string k in o.Keys)
        {
            if (!allowed.Contains(k)) throw new ArgumentException($"unknown option --{k} (allowed: {string.Join(", ", allowed.Select(a => "--" + a))})");
        }
    }

    private static int BuildInt8(Dictionary<string, string> o, TextWriter stdout, TextWriter stderr)
    {
        bool fromInt8 = o.ContainsKey("from-int8");
        if (fromInt8)
        {
            Reject(o, "from-int8", "training-manifest", "dataset", "out", "id", "version", "created", "method", "percentile", "threshold");
        }
        else
        {
            Reject(o, "float", "training-manifest", "dataset", "out", "id", "version", "parent", "created", "method", "percentile", "threshold");
        }
        string? parentManifest = fromInt8 ? Required(o, "from-int8") : null;
        EdgeKws.Detection.ModelManifest? parent = null;
        if (parentManifest is not null)
        {
            if (!File.Exists(parentManifest)) throw new ArgumentException($"--from-int8: {parentManifest} does not exist (give the model's .int8.manifest.json)");
            if (!EdgeKws.Detection.ModelManifest.TryParse(File.ReadAllBytes(parentManifest), out parent, out string why))
                throw new ArgumentException($"--from-int8: {parentManifest}: {why}");
        }
        string id = fromInt8 ? o.GetValueOrDefault("id") ?? parent!.ModelId ?? throw new ArgumentException("--id is required (the parent manifest has no modelId)") : Required(o, "id");
        string version = fromInt8 ? o.GetValueOrDefault("version") ?? Int8ModelBuilder.FieldVersion(parent!.ModelVersion ?? "") : Required(o, "version");
        var options = new Int8BuildOptions
        {
            ModelId = id,
            ModelVersion = version,
            ParentVersion = o.GetValueOrDefault("parent"),
            CreatedUtc = o.TryGetValue("created", out string? created)
                ? DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t
                    : throw new ArgumentException($"--created must be an ISO 8601 time, got '{created}'")
                : null,
            Method = o.GetValueOrDefault("method", "percentile") switch
            {
                "percentile" => CalibrationMethod.Percentile,
                "minmax" => CalibrationMethod.MinMax,
                var m => throw new ArgumentException($"--method must be percentile or minmax, got '{m}'"),
            },
            Percentile = Number(o, "percentile") ?? 99.99,
            Threshold = Number(o, "threshold") is { } th ? (float)th : null,
        };
        if (fromInt8)
        {
            string training = o.GetValueOrDefault("training-manifest")
                ?? parentManifest!.Replace(".int8.manifest.json", ".training-manifest.json", StringComparison.Ordinal);
            if (training == parentManifest || !File.Exists(training))
                throw new ArgumentException($"--from-int8: no training manifest beside {parentManifest} ({training}); give --training-manifest");
            var rr = Int8ModelBuilder.Recalibrate(parentManifest!, training, Required(o, "dataset"), Required(o, "out"), options);
            stdout.WriteLine($"{rr.ModelFile}: {version}, re-calibrated from {rr.RecalibratedFrom} on dataset {rr.DatasetId}: {rr.Int8SizeBytes} bytes INT8, {rr.Method}, {rr.CalibrationWindows} calibration windows");
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{rr.EvaluationSplit} windows {rr.EvaluationWindows}: recovered float acc {rr.FloatAccuracy:0.0000}, int8 acc {rr.Int8Accuracy:0.0000}, arg-max agreement {rr.ArgMaxAgreement:P2}, mean |dp| {rr.MeanAbsPosteriorDifference:0.0000}"));
            stdout.WriteLine($"manifest: {Path.Combine(Required(o, "out"), rr.ManifestFile)}");
            stdout.WriteLine($"training manifest: {Int8ModelBuilder.TrainingManifestPath(Required(o, "out"), id, version)}");
            return 0;
        }
        var r = Int8ModelBuilder.Build(Required(o, "float"), Required(o, "training-manifest"), Required(o, "dataset"), Required(o, "out"), options);
        stdout.WriteLine($"{r.ModelFile}: {r.Int8SizeBytes} bytes INT8 (float {r.FloatSizeBytes}), {r.Method}, {r.CalibrationWindows} calibration windows");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.EvaluationSplit} windows {r.EvaluationWindows}: float acc {r.FloatAccuracy:0.0000}, int8 acc {r.Int8Accuracy:0.0000}, arg-max agreement {r.ArgMaxAgreement:P2}, mean |dp| {r.MeanAbsPosteriorDifference:0.0000}"));
        stdout.WriteLine($"manifest: {Path.Combine(Required(o, "out"), r.ManifestFile)}");
        return 0;
    }

    private static StreamingEvaluationOptions EvaluationOptions(Dictionary<string, string> o, string description) => new()
    {
        ToleranceMs = Number(o, "tolerance-ms") ?? 1000,
        Threshold = Number(o, "threshold") is { } t ? (float)t : null,
        EvaluationSet = description,
    };

    /// <summary>The streams of <c>--corpus DIR</c> (its <c>--split</c>, default test) or of <c>--streams FILE</c>: exactly one of them.</summary>
    private static IReadOnlyList<EvaluationStream> Streams(Dictionary<string, string> o, out string description)
    {
        bool corpus = o.ContainsKey("corpus"), file = o.ContainsKey("streams");
        if (corpus == file)
            throw new ArgumentException(corpus
                ? "--corpus and --streams are mutually exclusive: give one evaluation set"
                : "an evaluation set is required: --corpus DIR (a generated corpus) or --streams FILE (an edgekws-streams/1 file)");
        if (file)
        {
            if (o.ContainsKey("split")) throw new ArgumentException("--split selects a corpus split; it does not apply to --streams");
            return EvaluationSetFile.Load(o["streams"], out description);
        }
        return CorpusStreams.Load(o["corpus"], o.GetValueOrDefault("split", EdgeKws.Corpus.Speakers.CorpusSplit.Test), out description);
    }

    private static int Evaluate(Dictionary<string, string> o, TextWriter stdout, TextWriter stderr)
    {
        Reject(o, "model", "corpus", "streams", "out", "threshold", "tolerance-ms", "split");
        string output = Required(o, "out");
        string model = Required(o, "model");
        var streams = Streams(o, out string description);
        var e = StreamingEvaluator.Evaluate(model, streams, EvaluationOptions(o, description));
        EvaluationWriter.Write(e, output);
        Print(e.Report, stdout);
        if (e.Report.Breakdown is { } b) stdout.Write(BreakdownPrinter.Format(b));
        stdout.WriteLine($"wrote {Path.Combine(output, EvaluationWriter.ReportFile)}, {EvaluationWriter.CurveFile}, {EvaluationWriter.PlotFile}");
        return 0;
    }

    private static int ExportStreams(Dictionary<string, string> o, TextWriter stdout)
    {
        Reject(o, "corpus", "split", "out");
        string output = Required(o, "out");
        var streams = CorpusStreams.Load(Required(o, "corpus"), o.GetValueOrDefault("split", EdgeKws.Corpus.Speakers.CorpusSplit.Test), out string description);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
        if (dir is not null) Directory.CreateDirectory(dir);
        EvaluationSetFile.Write(output, streams, description);
        int keywords = streams.Sum(s => s.Phrases.Count);
        int segments = streams.Sum(s => s.Segments?.Count ?? 0);
        stdout.WriteLine($"wrote {output}: {streams.Count} streams, {keywords} phrases with tags, {segments} negative-stream segments ({description})");
        return 0;
    }

    private static int Gate(Dictionary<string, string> o, TextWriter stdout, TextWriter stderr)
    {
        Reject(o, "current", "candidate", "corpus", "streams", "out", "fa-margin", "frr-margin", "tolerance-ms");
        string currentManifest = Required(o, "current"), candidateManifest = Required(o, "candidate");
        var streams = Streams(o, out string description);
        var options = EvaluationOptions(o, description);
        var current = StreamingEvaluator.Evaluate(currentManifest, streams, options);
        var candidate = StreamingEvaluator.Evaluate(candidateManifest, streams, options);
        var gate = PromotionGate.Decide(current, candidate, new GateMargins { FaPerHour = Number(o, "fa-margin"), FalseRejectRate = Number(o, "frr-margin") });
        stdout.Write("current:   ");
        Print(current.Report, stdout);
        stdout.Write("candidate: ");
        Print(candidate.Report, stdout);
        if (gate.Breakdown is { } b) stdout.Write(BreakdownPrinter.FormatGate(b));
        foreach (var c in gate.Checks) stdout.WriteLine($"  [{(c.Passed ? "pass" : "FAIL")}] {c.Name}: {c.Detail}");
        stdout.WriteLine(gate.Summary);
        if (o.TryGetValue("out", out string? dir))
        {
            EvaluationWriter.WriteGate(gate, current, candidate, dir);
            stdout.WriteLine($"wrote {Path.Combine(dir, EvaluationWriter.GateFile)}, {EvaluationWriter.GatePlotFile}");
        }
        return gate.Promote ? 0 : Refused;
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
