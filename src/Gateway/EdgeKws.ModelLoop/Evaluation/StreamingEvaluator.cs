using System.Globalization;
using EdgeKws.Detection;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>One stream as the real detector saw it: the smoothed score of every inference and the detector's own events.</summary>
public sealed class StreamTrace
{
    internal StreamTrace(EvaluationStream stream, long[] frames, float[] smoothed, long[] detectorEvents)
    {
        Stream = stream;
        InferenceFrames = frames;
        SmoothedScores = smoothed;
        DetectorEventFrames = detectorEvents;
    }

    public EvaluationStream Stream { get; }
    /// <summary>Frame index (from 0) of the newest frame of each inference's window.</summary>
    public long[] InferenceFrames { get; }
    /// <summary>The detector's smoothed keyword posterior after each inference.</summary>
    public float[] SmoothedScores { get; }
    /// <summary>Frames at which the real detector fired at the deployed threshold.</summary>
    public long[] DetectorEventFrames { get; }
}

/// <summary>Result of <see cref="StreamingEvaluator.Evaluate"/>: the report, the DET curve and the traces behind them.</summary>
public sealed class StreamingEvaluation
{
    internal StreamingEvaluation(EvaluationReport report, StreamingDetPoint[] curve, IReadOnlyList<StreamTrace> traces)
    {
        Report = report;
        Curve = curve;
        Traces = traces;
    }

    public EvaluationReport Report { get; }
    /// <summary>Operating points in ascending threshold order.</summary>
    public StreamingDetPoint[] Curve { get; }
    public IReadOnlyList<StreamTrace> Traces { get; }

    /// <summary>The deployed operating point (counted from the real detector's events).</summary>
    public StreamingDetPoint Deployed => new(Report.Threshold, Report.FalseAccepts, Report.NegativeHours, Report.MissedKeywords, Report.Keywords);
}

/// <summary>
/// Streaming evaluation of a device model: the device's own front end (<see cref="MfccExtractor"/>)
/// and detector (<see cref="KeywordDetector"/> over the INT8 model and its manifest, loaded through
/// <see cref="KeywordModel.TryLoad(string, string, long, out KeywordModel?, out string)"/>) run over
/// long negative and positive recordings; FA/hour and FRR at the deployed threshold come from the
/// detector's real events, the DET curve from replaying its firing rules over the recorded smoothed
/// scores at every threshold of a grid (checked: the replay at the deployed threshold must give
/// exactly the detector's events, or the evaluation fails).
/// </summary>
public static class StreamingEvaluator
{
    public static StreamingEvaluation Evaluate(string manifestPath, IReadOnlyList<EvaluationStream> streams, StreamingEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(manifestPath);
        ArgumentNullException.ThrowIfNull(streams);
        options ??= new StreamingEvaluationOptions();
        if (!(options.ToleranceMs >= 0)) throw new ArgumentException($"tolerance must be >= 0 ms, got {options.ToleranceMs}");
        if (streams.Count == 0) throw new ArgumentException("no evaluation streams: a corpus needs test/streams/negative-*.wav and positive-*.wav (generate it with --negatives-minutes and --positives)");
        foreach (var s in streams)
        {
            if (s.Segments is not { Count: > 0 } segments) continue;
            if (s.Kind != EvaluationStreamKind.Negative)
                throw new ArgumentException($"stream '{s.Name}': only negative streams have segments (a positive stream's false accepts count as {SegmentKinds.PositiveBackground})");
            if (SegmentKinds.Check(segments, s.DurationMs) is { } problem) throw new ArgumentException($"stream '{s.Name}': {problem}");
        }

        string featureHash = options.FeatureConfig.FeatureConfigHash;
        if (!KeywordModel.TryLoad(manifestPath, featureHash, options.MaxModelBytes, out var model, out string reason))
            throw new InvalidDataException($"cannot evaluate {manifestPath}: {reason}");
        var manifest = model!.Manifest;
        string keyword = manifest.Labels![manifest.KeywordIndex!.Value];
        var detectorOptions = new KeywordDetectorOptions { Threshold = options.Threshold };
        if (!KeywordDetector.TryCreate(model, detectorOptions, out var detector, out reason))
            throw new InvalidDataException($"cannot build the detector for {manifestPath}: {reason}");

        var traces = new List<StreamTrace>(streams.Count);
        float threshold;
        long refractoryFrames;
        int hopMs = manifest.FrameHopMs!.Value;
        using (detector)
        {
            threshold = detector!.Threshold;
            refractoryFrames = detector.RefractoryFrames;
            var extractor = new MfccExtractor(options.FeatureConfig);
            if (extractor.CoefficientCount != detector.Coefficients)
                throw new InvalidDataException($"the front end gives {extractor.CoefficientCount} coefficients per frame, the model takes {detector.Coefficients}");
            foreach (var s in streams) traces.Add(Run(s, extractor, detector));
        }

        // The sweep grid: fine near 0 and 1 (where FA/hour and FRR change fastest), plus the deployed threshold.
        var grid = new SortedSet<float> { threshold };
        for (int i = 1; i <= 400; i++) grid.Add(i / 400f);
        for (int k = 9; k <= 24; k++) grid.Add((float)(1 - Math.Pow(10, -k / 4.0)));
        foreach (float t in options.ExtraThresholds)
        {
            if (!(t > 0f && t <= 1f)) throw new ArgumentException($"extra threshold {t} is outside (0, 1]");
            grid.Add(t);
        }

        double negativeStreamMs = 0, positiveBackgroundMs = 0;
        foreach (var s in streams)
        {
            if (s.Kind == EvaluationStreamKind.Negative) negativeStreamMs += s.DurationMs;
            else positiveBackgroundMs += s.DurationMs - CoveredMs(AcceptanceIntervals(s, keyword, options.ToleranceMs), s.DurationMs);
        }
        double negativeHours = (negativeStreamMs + positiveBackgroundMs) / 3_600_000.0;

        var curve = new StreamingDetPoint[grid.Count];
        int g = 0;
        var frames = new List<long>();
        foreach (float t in grid)
        {
            var total = new StreamCounts();
            foreach (var tr in traces)
            {
                frames.Clear();
                DetectionReplay.Replay(tr.SmoothedScores, tr.InferenceFrames, t, refractoryFrames, frames);
                total = total.Add(Score(tr.Stream, frames, hopMs, keyword, options.ToleranceMs));
            }
            curve[g++] = new StreamingDetPoint(t, total.FalseAccepts, negativeHours, total.Keywords - total.Detected, total.Keywords);
        }

        // Headline numbers from the real detector's events, and the replay checked against them.
        var perStream = new List<StreamReport>(traces.Count);
        var outcomes = new List<StreamOutcome>(traces.Count);
        var latenciesMs = new List<double>();
        var deployed = new StreamCounts();
        int detectorEvents = 0, replayEvents = 0;
        bool identical = true;
        foreach (var tr in traces)
        {
            frames.Clear();
            replayEvents += DetectionReplay.Replay(tr.SmoothedScores, tr.InferenceFrames, threshold, refractoryFrames, frames);
            detectorEvents += tr.DetectorEventFrames.Length;
            if (!frames.SequenceEqual(tr.DetectorEventFrames)) identical = false;
            var outcome = new OutcomeRecorder(tr.Stream);
            var c = Score(tr.Stream, tr.DetectorEventFrames, hopMs, keyword, options.ToleranceMs, outcome);
            outcomes.Add(outcome.ToOutcome());
            latenciesMs.AddRange(outcome.KeywordEndToEventMs);
            deployed = deployed.Add(c);
            perStream.Add(new StreamReport
            {
                Name = tr.Stream.Name,
                Kind = tr.Stream.Kind == EvaluationStreamKind.Negative ? "negative" : "positive",
                DurationSeconds = Math.Round(tr.Stream.DurationMs / 1000.0, 3),
                Inferences = tr.InferenceFrames.Length,
                Detections = tr.DetectorEventFrames.Length,
                FalseAccepts = c.FalseAccepts,
                Keywords = c.Keywords,
                DetectedKeywords = c.Detected,
                OtherPhrases = c.OtherPhrases,
                FalseAcceptsOnOtherPhrases = c.FalseAcceptsOnOtherPhrases,
            });
        }
        if (!identical)
            throw new InvalidOperationException($"the threshold sweep does not reproduce the detector: at threshold {threshold.ToString(CultureInfo.InvariantCulture)} the detector fired {detectorEvents} times, the replay {replayEvents} (or at other frames); the replay rules are out of date with KeywordDetector");

        var report = new EvaluationReport
        {
            FormatVersion = EvaluationReport.Format,
            ModelId = manifest.ModelId!,
            ModelVersion = manifest.ModelVersion!,
            ModelSha256 = manifest.Sha256!,
            ModelSizeBytes = manifest.SizeBytes!.Value,
            FeatureConfigHash = featureHash,
            Keyword = keyword,
            Threshold = threshold,
            ManifestThreshold = manifest.Threshold!.Value,
            SmoothingFrames = manifest.SmoothingFrames!.Value,
            StrideFrames = manifest.StrideFrames!.Value,
            RefractoryMs = manifest.RefractoryMs!.Value,
            FrameHopMs = hopMs,
            ToleranceMs = options.ToleranceMs,
            EvaluationSet = options.EvaluationSet,
            Streams = perStream,
            NegativeStreamHours = negativeStreamMs / 3_600_000.0,
            PositiveBackgroundHours = positiveBackgroundMs / 3_600_000.0,
            NegativeHours = negativeHours,
            FaPerHourResolution = negativeHours > 0 ? 1 / negativeHours : double.NaN,
            FalseAccepts = deployed.FalseAccepts,
            FalseAcceptsInNegativeStreams = deployed.FalseAcceptsNegative,
            FalseAcceptsInPositiveStreams = deployed.FalseAccepts - deployed.FalseAcceptsNegative,
            Keywords = deployed.Keywords,
            MissedKeywords = deployed.Keywords - deployed.Detected,
            FaPerHour = negativeHours > 0 ? deployed.FalseAccepts / negativeHours : double.NaN,
            FalseRejectRate = deployed.Keywords > 0 ? (deployed.Keywords - deployed.Detected) / (double)deployed.Keywords : double.NaN,
            ReplayCheck = new ReplayCheck { Threshold = threshold, DetectorEvents = detectorEvents, ReplayEvents = replayEvents, IdenticalFrames = identical },
            CurvePoints = curve.Length,
            KeywordEndToEvent = LatencySummary.Of(latenciesMs),
            Breakdown = Breakdown(threshold, keyword, outcomes, negativeHours, positiveBackgroundMs / 3_600_000.0, deployed, curve, traces,
                refractoryFrames, hopMs, options.ToleranceMs),
        };
        return new StreamingEvaluation(report, curve, traces);
    }

    /// <summary>
    /// The distribution behind the headline numbers, from the same counting (<see cref="Score"/>) at the deployed threshold,
    /// plus per engine and room the FRR at the sweep's point closest below 0.5 FA/hour (replayed like the curve).
    /// </summary>
    private static EvaluationBreakdown Breakdown(float threshold, string keyword, List<StreamOutcome> outcomes, double negativeHours,
        double positiveBackgroundHours, StreamCounts deployed, StreamingDetPoint[] curve, List<StreamTrace> traces, long refractoryFrames,
        int hopMs, double toleranceMs)
    {
        OperatingPointBreakdown? atHalf = null;
        if (AccuracyBreakdown.TryOperatingPointBelow(curve, AccuracyBreakdown.HalfFaPerHour, out var point))
        {
            var replayed = new List<StreamOutcome>(traces.Count);
            var frames = new List<long>();
            var total = new StreamCounts();
            foreach (var tr in traces)
            {
                frames.Clear();
                DetectionReplay.Replay(tr.SmoothedScores, tr.InferenceFrames, point.Threshold, refractoryFrames, frames);
                var outcome = new OutcomeRecorder(tr.Stream);
                total = total.Add(Score(tr.Stream, frames, hopMs, keyword, toleranceMs, outcome));
                replayed.Add(outcome.ToOutcome());
            }
            atHalf = new OperatingPointBreakdown
            {
                TargetFaPerHour = AccuracyBreakdown.HalfFaPerHour,
                Threshold = point.Threshold,
                FalseAccepts = total.FalseAccepts,
                FaPerHour = negativeHours > 0 ? total.FalseAccepts / negativeHours : double.NaN,
                Overall = AccuracyBreakdown.Frr("all", total.Keywords, total.Keywords - total.Detected),
                By = AccuracyBreakdown.FrrByTags(replayed, keyword, [StreamTags.Engine, StreamTags.Room]),
            };
        }
        return new EvaluationBreakdown
        {
            Threshold = threshold,
            Confidence = ConfidenceIntervals.DefaultConfidence,
            OverallFrr = AccuracyBreakdown.Frr("all", deployed.Keywords, deployed.Keywords - deployed.Detected),
            OverallFaPerHour = AccuracyBreakdown.Fa("all", negativeHours, deployed.FalseAccepts),
            FrrBy = AccuracyBreakdown.FrrByTags(outcomes, keyword),
            FaPerHourByKind = AccuracyBreakdown.FaByKind(outcomes, positiveBackgroundHours, toleranceMs),
            FrrAtHalfFaPerHour = atHalf,
        };
    }

    /// <summary>Filled by <see cref="Score"/>: which phrases a detection accepted and when each false accept fired.</summary>
    private sealed class OutcomeRecorder(EvaluationStream stream)
    {
        public bool[] Detected { get; } = new bool[stream.Phrases.Count];
        public List<double> FalseAcceptTimesMs { get; } = [];
        /// <summary>For each detected keyword, its first accepting detection's time minus the keyword's end (audio time).</summary>
        public List<double> KeywordEndToEventMs { get; } = [];
        public StreamOutcome ToOutcome() => new(stream, Detected, FalseAcceptTimesMs);
    }

    private static StreamTrace Run(EvaluationStream stream, MfccExtractor extractor, KeywordDetector detector)
    {
        extractor.Reset();
        detector.Reset();
        int coefficients = extractor.CoefficientCount;
        var samples = new float[16_000];
        // At most one frame per hop plus the one the carried-over samples complete.
        var features = new float[(samples.Length / extractor.HopSamples + 2) * coefficients];
        long expectedInferences = Math.Max(0, (long)(stream.DurationMs / 10) / detector.StrideFrames + 1);
        var frames = new List<long>((int)Math.Min(expectedInferences, int.MaxValue));
        var smoothed = new List<float>(frames.Capacity);
        var events = new List<long>();
        using var source = new AudioFileSource(stream.WavPath);
        int n;
        while ((n = source.Read(samples)) > 0)
        {
            int got = extractor.Push(samples.AsSpan(0, n), features);
            for (int f = 0; f < got; f++)
            {
                long before = detector.InferenceCount;
                if (detector.TryPushFrame(features.AsSpan(f * coefficients, coefficients), out var detection)) events.Add(detection.EndFrameIndex);
                if (detector.InferenceCount != before)
                {
                    frames.Add(detector.FramesPushed - 1);
                    smoothed.Add(detector.LastSmoothedScore);
                }
            }
        }
        return new StreamTrace(stream, [.. frames], [.. smoothed], [.. events]);
    }

    private readonly record struct StreamCounts(long FalseAccepts, long FalseAcceptsNegative, long Keywords, long Detected, long OtherPhrases, long FalseAcceptsOnOtherPhrases)
    {
        public StreamCounts Add(StreamCounts o) => new(FalseAccepts + o.FalseAccepts, FalseAcceptsNegative + o.FalseAcceptsNegative,
            Keywords + o.Keywords, Detected + o.Detected, OtherPhrases + o.OtherPhrases, FalseAcceptsOnOtherPhrases + o.FalseAcceptsOnOtherPhrases);
    }

    private static List<(double Start, double End)> AcceptanceIntervals(EvaluationStream s, string keyword, double toleranceMs)
    {
        var list = new List<(double, double)>();
        foreach (var p in s.Phrases)
        {
            if (p.Phrase == keyword) list.Add((p.StartMs, p.EndMs + toleranceMs));
        }
        return list;
    }

    /// <summary>Length of the union of intervals, clipped to [0, durationMs].</summary>
    private static double CoveredMs(List<(double Start, double End)> intervals, double durationMs)
    {
        intervals.Sort();
        double covered = 0, curStart = double.NaN, curEnd = double.NaN;
        foreach (var (a0, b0) in intervals)
        {
            double a = Math.Max(0, a0), b = Math.Min(durationMs, b0);
            if (b <= a) continue;
            if (double.IsNaN(curStart) || a > curEnd)
            {
                if (!double.IsNaN(curStart)) covered += curEnd - curStart;
                curStart = a;
                curEnd = b;
            }
            else curEnd = Math.Max(curEnd, b);
        }
        if (!double.IsNaN(curStart)) covered += curEnd - curStart;
        return covered;
    }

    private static StreamCounts Score(EvaluationStream s, IReadOnlyList<long> eventFrames, int hopMs, string keyword, double toleranceMs,
        OutcomeRecorder? outcome = null)
    {
        if (s.Kind == EvaluationStreamKind.Negative)
        {
            if (outcome is not null)
            {
                foreach (long frame in eventFrames) outcome.FalseAcceptTimesMs.Add((frame + 1) * (double)hopMs);
            }
            return new StreamCounts(eventFrames.Count, eventFrames.Count, 0, 0, 0, 0);
        }
        int keywords = 0, others = 0;
        foreach (var p in s.Phrases)
        {
            if (p.Phrase == keyword) keywords++;
            else others++;
        }
        var hit = new bool[s.Phrases.Count];
        long falseAccepts = 0, onOthers = 0;
        foreach (long frame in eventFrames)
        {
            double t = (frame + 1) * (double)hopMs;
            bool accepted = false, overOther = false;
            for (int i = 0; i < s.Phrases.Count; i++)
            {
                var p = s.Phrases[i];
                if (t < p.StartMs || t > p.EndMs + toleranceMs) continue;
                if (p.Phrase == keyword)
                {
                    if (!hit[i]) outcome?.KeywordEndToEventMs.Add(t - p.EndMs);
                    hit[i] = true;
                    accepted = true;
                }
                else overOther = true;
            }
            if (accepted) continue;
            falseAccepts++;
            outcome?.FalseAcceptTimesMs.Add(t);
            if (overOther) onOthers++;
        }
        int detected = 0;
        for (int i = 0; i < hit.Length; i++)
        {
            if (hit[i]) detected++;
        }
        if (outcome is not null) hit.CopyTo(outcome.Detected, 0);
        return new StreamCounts(falseAccepts, 0, keywords, detected, others, onOthers);
    }
}
