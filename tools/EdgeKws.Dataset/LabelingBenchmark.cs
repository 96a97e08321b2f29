using System.Globalization;
using System.Text.Json;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Verification;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.Dataset;

/// <summary>What <see cref="LabelingBenchmark"/> runs on and how.</summary>
public sealed record LabelingBenchmarkOptions
{
    /// <summary>The device model whose score is one of the signals (a model manifest).</summary>
    public required string ModelManifest { get; init; }

    /// <summary>A gateway verifier model's manifest whose score is one more signal, or null.</summary>
    public string? VerifierManifest { get; init; }

    /// <summary>The wake phrase.</summary>
    public string WakePhrase { get; init; } = "hey edge";

    /// <summary>Split the calibration is fitted on.</summary>
    public string CalibrationSplit { get; init; } = "validation";

    /// <summary>Split the figures are reported on (other voices and rooms than the calibration split).</summary>
    public string TestSplit { get; init; } = "test";

    /// <summary>Clips per kind and split, round-robin over engines and speakers.</summary>
    public int PerKind { get; init; } = 60;

    /// <summary>Precision target of each decided label kind.</summary>
    public double Precision { get; init; } = CalibratedLabeler.DefaultPrecision;

    /// <summary>Clips aligned at once.</summary>
    public int Parallel { get; init; } = 2;

    /// <summary>Only clips the device model fires on (score at or above its manifest threshold) in both splits, up to
    /// <see cref="PerKind"/> of each kind: the population a gateway labels, for a calibration fitted on it. Every clip of
    /// a split is scored by the device model first (milliseconds each); only the picked ones go through the aligner.</summary>
    public bool TriggersOnly { get; init; }
}

/// <summary>One benchmark clip and what each labeler made of it.</summary>
/// <param name="Path">Corpus-relative path.</param>
/// <param name="Kind">keyword, keyword in a sentence, near miss, other speech.</param>
/// <param name="HoldsWakePhrase">The ground truth.</param>
/// <param name="Engine">TTS engine of the voice.</param>
/// <param name="Room">Room class ("dry" where the corpus has none).</param>
/// <param name="Evidence">Every signal.</param>
/// <param name="Probability">Calibrated P(wake phrase) (test split only; NaN on the calibration split).</param>
/// <param name="Calibrated">The calibrated labeler's decision at the benchmark's precision target.</param>
/// <param name="Rules">The fixed-rule verifier's decision (the gateway's behaviour without a calibration).</param>
public sealed record LabelingBenchmarkClip(string Path, string Kind, bool HoldsWakePhrase, string Engine, string Room, LabelEvidence Evidence,
    double Probability, TriggerLabel Calibrated, TriggerLabel Rules);

/// <summary>Figures of one group of clips for one labeler.</summary>
/// <param name="Group">"all", "room dry", "kind near miss", "engine flite", ...</param>
/// <param name="Clips">Clips in the group.</param>
/// <param name="DecidedTrueAccepts">Labelled true accept automatically.</param>
/// <param name="CorrectTrueAccepts">Of them, clips that hold the wake phrase.</param>
/// <param name="DecidedFalseAccepts">Labelled false accept automatically.</param>
/// <param name="CorrectFalseAccepts">Of them, clips without the wake phrase.</param>
/// <param name="Reviews">Sent to a person.</param>
public sealed record LabelingFigures(string Group, int Clips, int DecidedTrueAccepts, int CorrectTrueAccepts, int DecidedFalseAccepts, int CorrectFalseAccepts, int Reviews)
{
    /// <summary>Precision of the decided true accepts (NaN when none).</summary>
    public double TrueAcceptPrecision => DecidedTrueAccepts == 0 ? double.NaN : (double)CorrectTrueAccepts / DecidedTrueAccepts;

    /// <summary>Precision of the decided false accepts (NaN when none).</summary>
    public double FalseAcceptPrecision => DecidedFalseAccepts == 0 ? double.NaN : (double)CorrectFalseAccepts / DecidedFalseAccepts;

    /// <summary>Precision of every decided label (NaN when none).</summary>
    public double DecidedPrecision => DecidedTrueAccepts + DecidedFalseAccepts == 0 ? double.NaN
        : (double)(CorrectTrueAccepts + CorrectFalseAccepts) / (DecidedTrueAccepts + DecidedFalseAccepts);

    /// <summary>Share of clips sent to review.</summary>
    public double ReviewRate => Clips == 0 ? double.NaN : (double)Reviews / Clips;

    /// <summary>95 % Wilson interval of <see cref="DecidedPrecision"/> (null when nothing was decided): 35 decided labels all
    /// right is a precision of at least 90 %, not 100 %.</summary>
    public ConfidenceInterval? DecidedPrecision95 =>
        ConfidenceIntervals.TryWilson(CorrectTrueAccepts + CorrectFalseAccepts, DecidedTrueAccepts + DecidedFalseAccepts, out ConfidenceInterval i) ? i : null;

    /// <summary>95 % Wilson interval of <see cref="ReviewRate"/> (null for an empty group).</summary>
    public ConfidenceInterval? ReviewRate95 => ConfidenceIntervals.TryWilson(Reviews, Clips, out ConfidenceInterval i) ? i : null;
}

/// <summary>Overall figures of the calibrated labeler at one precision target (the target moves the review rate).</summary>
/// <param name="Precision">The target.</param>
/// <param name="Figures">Its figures on the test split.</param>
public sealed record LabelingTargetPoint(double Precision, LabelingFigures Figures);

/// <summary>The benchmark's outcome.</summary>
public sealed record LabelingBenchmarkReport
{
    /// <summary>Aligner and verifier versions.</summary>
    public required string Tool { get; init; }

    /// <summary>The device model that gave the device score.</summary>
    public required string ModelVersion { get; init; }

    /// <summary>The device model's threshold: the clips scored at or above it are the ones a device would upload as triggers,
    /// the population the gateway's labeler meets in the field (the "device fires" group of the figures).</summary>
    public required double DeviceThreshold { get; init; }

    /// <summary>The verifier model that gave the verifier score, or null.</summary>
    public string? VerifierVersion { get; init; }

    /// <summary>The calibration fitted on the calibration split.</summary>
    public required LabelCalibration Calibration { get; init; }

    /// <summary>The precision target of the figures.</summary>
    public required double Precision { get; init; }

    /// <summary>Calibrated labeler on the test split: "all", then per kind, room and engine.</summary>
    public required IReadOnlyList<LabelingFigures> Calibrated { get; init; }

    /// <summary>Fixed-rule verifier on the same clips.</summary>
    public required IReadOnlyList<LabelingFigures> Rules { get; init; }

    /// <summary>Overall figures at several precision targets.</summary>
    public required IReadOnlyList<LabelingTargetPoint> Targets { get; init; }

    /// <summary>Every test clip.</summary>
    public required IReadOnlyList<LabelingBenchmarkClip> Clips { get; init; }
}

/// <summary>
/// The labeling benchmark behind <c>edgekws-dataset label-bench</c>: trigger-like clips of a far-field corpus (the wake phrase
/// alone and inside sentences, its near misses, other speech; every engine, room and SNR of the corpus) go through the
/// gateway's labeler. The calibration is fitted on one split and the figures are measured on another (other voices, other
/// rooms): precision of decided true accepts and of decided false accepts and the review rate, overall and per kind, room
/// and engine, for the calibrated labeler and for the fixed-rule verifier it replaces.
/// </summary>
public static class LabelingBenchmark
{
    /// <summary>Clip kinds.</summary>
    public static class Kinds
    {
        /// <summary>The wake phrase alone.</summary>
        public const string Keyword = "keyword";

        /// <summary>The wake phrase inside a sentence.</summary>
        public const string KeywordInSentence = "keyword in a sentence";

        /// <summary>A near miss ("hey hedge").</summary>
        public const string NearMiss = "near miss";

        /// <summary>A sentence without the wake phrase.</summary>
        public const string OtherSpeech = "other speech";
    }

    /// <summary>Precision targets of <see cref="LabelingBenchmarkReport.Targets"/>.</summary>
    public static readonly double[] TargetGrid = [0.8, 0.9, 0.95, 0.98, 0.99, 0.995];

    /// <summary>Runs the benchmark.</summary>
    public static async Task<LabelingBenchmarkReport> RunAsync(string corpusRoot, CorpusManifest manifest, LabelingBenchmarkOptions options,
        Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(options);
        if (options.CalibrationSplit == options.TestSplit)
        {
            throw new ArgumentException($"the calibration and test splits must differ (both '{options.TestSplit}')");
        }

        var engineOf = manifest.Speakers.ToDictionary(s => s.Id, s => s.Engine, StringComparer.Ordinal);
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var verifier = new TriggerVerifier(aligner, options.WakePhrase);
        string modelVersion;
        double deviceThreshold;
        string? verifierVersion = null;
        List<(LabelingBenchmarkClip Clip, bool Calibration)> all = [];
        using (var scorer = new ClipScorer(options.ModelManifest))
        using (ClipScorer? verifierModel = options.VerifierManifest is null ? null : new ClipScorer(options.VerifierManifest, ClipScorer.VerifierMaxModelBytes))
        {
            modelVersion = scorer.ModelVersion;
            deviceThreshold = scorer.Threshold;
            verifierVersion = verifierModel?.ModelVersion;
            foreach ((string split, bool forCalibration) in new[] { (options.CalibrationSplit, true), (options.TestSplit, false) })
            {
                List<(CorpusFile File, string Kind)> picked = Pick(manifest, split, options.TriggersOnly ? int.MaxValue : options.PerKind, engineOf, options.WakePhrase);
                if (picked.Count == 0)
                {
                    throw new ArgumentException($"the corpus has no clips in split '{split}'");
                }

                double[] deviceScores = [.. picked.Select(p => scorer.Score(Path.Combine(corpusRoot, p.File.Path)))];
                if (options.TriggersOnly)
                {
                    // Keep Pick's round-robin order, so the first PerKind triggers of a kind still spread over engines and speakers.
                    List<int> keep = [.. Enumerable.Range(0, picked.Count).Where(i => deviceScores[i] >= scorer.Threshold)
                        .GroupBy(i => picked[i].Kind, StringComparer.Ordinal).SelectMany(g => g.Take(options.PerKind)).Order()];
                    progress?.Invoke($"{split}: {keep.Count} of {picked.Count} clips fire the device model at {scorer.Threshold}");
                    if (keep.Count == 0)
                    {
                        throw new ArgumentException($"no clip of split '{split}' fires the device model at its threshold {scorer.Threshold}");
                    }
                    picked = [.. keep.Select(i => picked[i])];
                    deviceScores = [.. keep.Select(i => deviceScores[i])];
                }
                double?[] verifierScores = [.. picked.Select(p => verifierModel?.Score(Path.Combine(corpusRoot, p.File.Path)))];
                var clips = new LabelingBenchmarkClip[picked.Count];
                int done = 0;
                await Parallel.ForEachAsync(Enumerable.Range(0, picked.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallel), CancellationToken = cancellationToken }, async (i, ct) =>
                {
                    (CorpusFile f, string kind) = picked[i];
                    (LabelEvidence evidence, WordSpan? phrase) = await verifier.GatherEvidenceAsync(Path.Combine(corpusRoot, f.Path), deviceScores[i], ct).ConfigureAwait(false);
                    evidence = evidence with { VerifierScore = verifierScores[i] };
                    clips[i] = new LabelingBenchmarkClip(f.Path, kind, kind is Kinds.Keyword or Kinds.KeywordInSentence,
                        f.Speaker is { } s && engineOf.TryGetValue(s, out string? e) ? e : "unknown", f.RoomClass ?? "dry", evidence, double.NaN,
                        TriggerLabel.NeedsReview, verifier.Decide(evidence, phrase).Label);
                    int n = Interlocked.Increment(ref done);
                    progress?.Invoke($"{split} {n}/{picked.Count} {f.Path}: {evidence.Describe()}");
                }).ConfigureAwait(false);
                all.AddRange(clips.Select(c => (c, forCalibration)));
            }
        }

        LabelCalibration calibration = LabelCalibration.Fit([.. all.Where(c => c.Calibration).Select(c => (c.Clip.Evidence, c.Clip.HoldsWakePhrase))],
            fittedOn: $"{manifest.Files.Count} files corpus ({manifest.GeneratorVersion}), split '{options.CalibrationSplit}'{(options.TriggersOnly ? " (clips the device model fires on)" : "")}, {verifier.Tool}, device model {modelVersion}"
                + (verifierVersion is null ? "" : $", verifier model {verifierVersion}"));
        LabelingBenchmarkClip[] test = [.. all.Where(c => !c.Calibration).Select(c => c.Clip)];
        var labeler = new CalibratedLabeler(calibration, options.Precision, options.Precision);
        test = [.. test.Select(c =>
        {
            LabelDecision d = labeler.Decide(c.Evidence);
            return c with { Probability = d.ProbabilityTrueAccept, Calibrated = d.Label };
        })];

        return new LabelingBenchmarkReport
        {
            Tool = verifier.Tool,
            ModelVersion = modelVersion,
            DeviceThreshold = deviceThreshold,
            VerifierVersion = verifierVersion,
            Calibration = calibration,
            Precision = options.Precision,
            Calibrated = Figures(test, c => c.Calibrated, deviceThreshold),
            Rules = Figures(test, c => c.Rules, deviceThreshold),
            Targets = [.. TargetGrid.Select(t =>
            {
                var l = new CalibratedLabeler(calibration, t, t);
                return new LabelingTargetPoint(t, Figures(test, c => l.Decide(c.Evidence).Label)[0]);
            })],
            Clips = test,
        };
    }

    /// <summary>The agent's default near-miss band (<c>NearMiss.BandFraction</c>): a device uploads a near miss when its
    /// smoothed score peaks in [0.5 x threshold, threshold).</summary>
    public const double NearMissBandFraction = 0.5;

    /// <summary>Figures for "all", then (with <paramref name="deviceThreshold"/>) the clips the device model fires on and
    /// those in its near-miss band, then per kind, room and engine.</summary>
    /// <remarks>The bench draws its clips by kind, whatever the device model makes of them; the gateway only ever labels
    /// clips a device uploaded because its score reached the threshold. The "device fires" group is that population, so
    /// its review rate is the one to compare with a field run's (the main job's), and the "all" row is the harder mix.</remarks>
    public static IReadOnlyList<LabelingFigures> Figures(IReadOnlyList<LabelingBenchmarkClip> clips, Func<LabelingBenchmarkClip, TriggerLabel> label, double? deviceThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(label);
        var groups = new List<(string Group, IEnumerable<LabelingBenchmarkClip> Clips)> { ("all", clips) };
        if (deviceThreshold is double t)
        {
            groups.Add((string.Create(CultureInfo.InvariantCulture, $"device fires (>= {t:0.####})"), clips.Where(c => c.Evidence.DeviceScore >= t)));
            double floor = NearMissBandFraction * t;
            groups.Add((string.Create(CultureInfo.InvariantCulture, $"near-miss band ({floor:0.####}..{t:0.####})"),
                clips.Where(c => c.Evidence.DeviceScore >= floor && c.Evidence.DeviceScore < t)));
        }
        groups.AddRange(clips.GroupBy(c => c.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => ("kind " + g.Key, (IEnumerable<LabelingBenchmarkClip>)g)));
        groups.AddRange(clips.GroupBy(c => c.Room).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => ("room " + g.Key, (IEnumerable<LabelingBenchmarkClip>)g)));
        groups.AddRange(clips.GroupBy(c => c.Engine).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => ("engine " + g.Key, (IEnumerable<LabelingBenchmarkClip>)g)));
        return [.. groups.Select(g =>
        {
            int n = 0, ta = 0, taOk = 0, fa = 0, faOk = 0, review = 0;
            foreach (LabelingBenchmarkClip c in g.Clips)
            {
                n++;
                switch (label(c))
                {
                    case TriggerLabel.TrueAccept: ta++; taOk += c.HoldsWakePhrase ? 1 : 0; break;
                    case TriggerLabel.FalseAccept: fa++; faOk += c.HoldsWakePhrase ? 0 : 1; break;
                    default: review++; break;
                }
            }
            return new LabelingFigures(g.Group, n, ta, taOk, fa, faOk, review);
        })];
    }

    /// <summary>Writes the report as fixed-width tables.</summary>
    public static void Write(LabelingBenchmarkReport report, TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(w);
        w.WriteLine($"labeler: {report.Tool}; device model {report.ModelVersion}; verifier model {report.VerifierVersion ?? "none"}; calibration fitted on {report.Calibration.Examples} clips ({report.Calibration.TrueAccepts} with the wake phrase)");
        Table(w, string.Create(CultureInfo.InvariantCulture, $"calibrated labeler, precision target {report.Precision:0.###} (test split: other voices and rooms than the calibration)"), report.Calibrated);
        Table(w, "fixed-rule verifier (the labeler without a calibration), same clips", report.Rules);
        w.WriteLine();
        w.WriteLine("precision target -> decided precision and review rate (calibrated labeler, all test clips)");
        foreach (LabelingTargetPoint p in report.Targets)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {p.Precision,6:0.###}: TA precision {Pct(p.Figures.TrueAcceptPrecision)} ({p.Figures.DecidedTrueAccepts}), FA precision {Pct(p.Figures.FalseAcceptPrecision)} ({p.Figures.DecidedFalseAccepts}), review {Pct(p.Figures.ReviewRate)}"));
        }
    }

    /// <summary>Writes the report and the calibration as JSON files in <paramref name="directory"/>.</summary>
    public static void Save(LabelingBenchmarkReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(directory);
        report.Calibration.Save(Path.Combine(directory, "label-calibration.json"));
        var json = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            WriteIndented = true,
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
            Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
        };
        File.WriteAllText(Path.Combine(directory, "label-bench.json"), JsonSerializer.Serialize(report, json) + "\n");
    }

    private static void Table(TextWriter w, string title, IReadOnlyList<LabelingFigures> figures)
    {
        w.WriteLine();
        w.WriteLine(title);
        w.WriteLine($"{"group",-28} {"clips",5} {"TA",4} {"TA prec",8} {"FA",4} {"FA prec",8} {"decided prec",12} {"95 % interval",17} {"review",7} {"95 % interval",17}");
        foreach (LabelingFigures f in figures)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{f.Group,-28} {f.Clips,5} {f.DecidedTrueAccepts,4} {Pct(f.TrueAcceptPrecision),8} {f.DecidedFalseAccepts,4} {Pct(f.FalseAcceptPrecision),8} {Pct(f.DecidedPrecision),12} {Interval(f.DecidedPrecision95),17} {Pct(f.ReviewRate),7} {Interval(f.ReviewRate95),17}"));
        }
    }

    private static string Interval(ConfidenceInterval? i) => i is { } v ? $"[{Pct(v.Low)}, {Pct(v.High)}]" : "-";

    private static string Pct(double v) => double.IsNaN(v) ? "-" : (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    // Up to PerKind clips of each kind, round-robin over engines then speakers so every engine is heard.
    private static List<(CorpusFile File, string Kind)> Pick(CorpusManifest manifest, string split, int perKind, Dictionary<string, string> engineOf, string wakePhrase)
    {
        string wake = string.Join(' ', PocketSphinxAligner.Normalise(wakePhrase));
        string? KindOf(CorpusFile f)
        {
            bool holds = f.KeywordEvents.Any(k => string.Join(' ', PocketSphinxAligner.Normalise(k.Keyword)) == wake);
            return f.Kind switch
            {
                FileKind.Keyword when holds => Kinds.Keyword,
                FileKind.Sentence => holds ? Kinds.KeywordInSentence : Kinds.OtherSpeech,
                FileKind.NearMiss => Kinds.NearMiss,
                _ => null,
            };
        }

        var result = new List<(CorpusFile, string)>();
        foreach (var kind in manifest.Files.Where(f => f.Split == split).Select(f => (File: f, Kind: KindOf(f))).Where(x => x.Kind is not null).GroupBy(x => x.Kind!, StringComparer.Ordinal))
        {
            var bySpeaker = kind.GroupBy(x => x.File.Speaker ?? "", StringComparer.Ordinal)
                .Select(g => (Engine: engineOf.TryGetValue(g.Key, out string? e) ? e : "", Queue: new Queue<CorpusFile>(g.Select(x => x.File))))
                .GroupBy(s => s.Engine, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => g.ToList()).ToList();
            int taken = 0, round = 0;
            while (taken < perKind && bySpeaker.Any(e => e.Any(s => s.Queue.Count > 0)))
            {
                foreach (var engine in bySpeaker)
                {
                    var speakers = engine.Where(s => s.Queue.Count > 0).ToList();
                    if (speakers.Count == 0 || taken >= perKind)
                    {
                        continue;
                    }
                    result.Add((speakers[round % speakers.Count].Queue.Dequeue(), kind.Key));
                    taken++;
                }
                round++;
            }
        }
        return result;
    }
}
