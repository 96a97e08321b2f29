using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Detection;
using EdgeKws.Device.Enrollment;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelTool;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Metrics;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Bench.Report;

/// <summary>The report's measurements that run in the bench process or call the project's other tools.</summary>
public static class Measurements
{
    public const int PreprocessingBudgetBytes = 16 * 1024;
    public const int ModelBudgetBytes = 64 * 1024;

    public static KeywordModel LoadModel(string manifest)
    {
        if (!KeywordModel.TryLoad(manifest, MfccConfig.Default.FeatureConfigHash, long.MaxValue, out KeywordModel? model, out string why))
        {
            throw new InvalidOperationException($"model {manifest}: {why}");
        }
        return model!;
    }

    public static string ModelLabel(KeywordModel m) => $"{m.Manifest.ModelId}-{m.Manifest.ModelVersion}";

    public static string Keyword(KeywordModel m) =>
        m.Manifest.Labels is { } labels && m.Manifest.KeywordIndex is int k && k >= 0 && k < labels.Length ? labels[k] : "hey edge";

    /// <summary>Fixed memory of the device parts, from the figures the classes themselves report.</summary>
    public static List<Figure> StaticMemory(KeywordModel model)
    {
        var mfcc = new MfccExtractor(MfccConfig.Default);
        if (!KeywordDetector.TryCreate(model, null, out KeywordDetector? detector, out string why))
        {
            throw new InvalidOperationException($"detector for {model.ModelPath}: {why}");
        }
        using (detector)
        {
            var enrollment = new EnrollmentSession(new EnrollmentPolicy());
            return
            [
                new Figure("memory.mfcc_state_bytes", "MFCC state (MfccExtractor.StateBytes)", mfcc.StateBytes, "B", PreprocessingBudgetBytes),
                new Figure("memory.model_bytes", "Model file", new FileInfo(model.ModelPath).Length, "B", ModelBudgetBytes, Path.GetFileName(model.ModelPath)),
                new Figure("memory.detector_working_bytes", "Detector working memory (KeywordDetector.WorkingMemoryBytes, managed)", detector!.WorkingMemoryBytes, "B"),
                new Figure("memory.enrollment_state_bytes", "Enrollment session state (EnrollmentSession.StateBytes, default policy)", enrollment.StateBytes, "B"),
            ];
        }
    }

    /// <summary>
    /// Managed bytes the device hot path (MFCC push + detector push, inferences included) allocates per
    /// second of audio, measured on this thread after a warm-up pass: the allocation-free promise, checked.
    /// </summary>
    public static double HotPathAllocatedBytesPerAudioSecond(KeywordModel model, short[] audio)
    {
        if (!KeywordDetector.TryCreate(model, null, out KeywordDetector? detector, out string why)) throw new InvalidOperationException(why);
        using (detector)
        {
            var mfcc = new MfccExtractor(MfccConfig.Default);
            var rows = new float[13 * 4];
            void Run()
            {
                for (int i = 0; i + 160 <= audio.Length; i += 160)
                {
                    int frames = mfcc.Push(audio.AsSpan(i, 160), rows);
                    for (int f = 0; f < frames; f++) detector!.TryPushFrame(rows.AsSpan(f * 13, 13), out _);
                }
            }
            Run();
            // Smallest of up to three readings, each from a reset front end and detector: a one-off
            // charge by the runtime (tier-up in this tiered process) is not the hot path's allocation.
            long allocated = AllocationMeter.BytesAllocated(
                prepare: () =>
                {
                    mfcc.Reset();
                    detector!.Reset();
                },
                measured: Run);
            return allocated / (audio.Length / 16000.0);
        }
    }

    /// <summary>EdgeKws MFCC over the whole clip in 10 ms blocks, best of <paramref name="repeats"/>: wall seconds.</summary>
    public static double EdgeKwsMfccSeconds(short[] audio, int repeats)
    {
        var mfcc = new MfccExtractor(MfccConfig.Default);
        var rows = new float[13 * 4];
        double best = double.MaxValue;
        for (int r = 0; r < repeats + 1; r++)
        {
            mfcc.Reset();
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i + 160 <= audio.Length; i += 160) mfcc.Push(audio.AsSpan(i, 160), rows);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (r > 0) best = Math.Min(best, s); // the first pass is the warm-up
        }
        return best;
    }

    public static void WriteWav(string path, short[] samples)
    {
        using var w = new WavWriter(path, 16000, 1, WavSampleFormat.Pcm16);
        w.Write(samples);
    }

    public sealed record TorchaudioResult(string Versions, double AudioSeconds, double KaldiWallSeconds, double TransformsWallSeconds);

    /// <summary>Runs tools/parity/bench_torchaudio.py on the same WAV with Debian's python3 (torch, one thread).</summary>
    public static async Task<TorchaudioResult> TorchaudioAsync(string repoRoot, string wav, int repeats)
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python)) throw new InvalidOperationException("Debian's /usr/bin/python3 (python3-torchaudio) is needed for the torchaudio comparison");
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync(python,
            [Path.Combine(repoRoot, "tools", "parity", "bench_torchaudio.py"), "--wav", wav, "--repeats", repeats.ToString(CultureInfo.InvariantCulture), "--json"],
            TimeSpan.FromMinutes(10), CancellationToken.None);
        if (exit != 0) throw new InvalidOperationException($"bench_torchaudio.py failed ({exit}): {stderr}");
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        JsonElement r = doc.RootElement;
        double Wall(string name) => r.GetProperty("results").EnumerateArray().First(e => e.GetProperty("name").GetString() == name).GetProperty("wallSeconds").GetDouble();
        return new TorchaudioResult($"torch {r.GetProperty("torch").GetString()}, torchaudio {r.GetProperty("torchaudio").GetString()}, threads {r.GetProperty("threads").GetInt32()}",
            r.GetProperty("audioSeconds").GetDouble(), Wall("compliance.kaldi.mfcc"), Wall("transforms.MFCC"));
    }

    public sealed record IngestResult(int Devices, int MessagesPerDevice, double MessagesPerSecond, double P50Ms, double P99Ms, long Lost, long Refused, string Line);

    /// <summary>Runs tools/EdgeKws.IngestBench (embedded broker + SQLite gateway, QoS 1 devices) and reads its result line.</summary>
    public static async Task<IngestResult> IngestAsync(string repoRoot, int devices, int messages)
    {
        string dll = Path.Combine(repoRoot, "tools", "EdgeKws.IngestBench", "bin", "Release", "net10.0", "EdgeKws.IngestBench.dll");
        if (!File.Exists(dll))
        {
            var (b, bo, be) = await ExternalProcess.RunAsync("dotnet", ["build", Path.Combine(repoRoot, "tools", "EdgeKws.IngestBench"), "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly"],
                TimeSpan.FromMinutes(10), CancellationToken.None);
            if (b != 0) throw new InvalidOperationException($"building EdgeKws.IngestBench failed: {bo}{be}");
        }
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync("dotnet",
            [dll, "ingest", "--target", "sqlite", "--devices", devices.ToString(CultureInfo.InvariantCulture), "--messages", messages.ToString(CultureInfo.InvariantCulture), "--timeout-s", "300"],
            TimeSpan.FromMinutes(10), CancellationToken.None);
        string line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("target=", StringComparison.Ordinal)) ?? "";
        if (line.Length == 0) throw new InvalidOperationException($"EdgeKws.IngestBench gave no result line ({exit}): {stderr}{stdout}");
        double Field(string name, string suffix = "")
        {
            int i = line.IndexOf(name + "=", StringComparison.Ordinal);
            if (i < 0) return double.NaN;
            string v = line[(i + name.Length + 1)..].Split(' ')[0];
            if (suffix.Length > 0 && v.EndsWith(suffix, StringComparison.Ordinal)) v = v[..^suffix.Length];
            return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : double.NaN;
        }
        return new IngestResult(devices, messages, Field("rate"), Field("p50", "ms"), Field("p99", "ms"), (long)Field("lost"), (long)Field("refused"), line);
    }

    /// <summary>The wake keyword's ground-truth end times (s) in the corpus's positive streams (test speakers only).</summary>
    public static List<(string Wav, double[] KeywordEndS, double[] KeywordStartS, double DurationS)> PositiveStreams(string corpusDirectory, string keyword)
    {
        var manifest = CorpusManifest.Load(Path.Combine(corpusDirectory, "manifest.json"));
        var streams = new List<(string, double[], double[], double)>();
        foreach (var f in manifest.Files)
        {
            if (f.Kind != FileKind.PositiveStream) continue;
            var events = f.KeywordEvents.Where(e => string.Equals(e.Keyword, keyword, StringComparison.OrdinalIgnoreCase)).ToArray();
            streams.Add((Path.Combine(corpusDirectory, f.Path), [.. events.Select(e => e.EndMs / 1000.0)], [.. events.Select(e => e.StartMs / 1000.0)], f.DurationMs / 1000.0));
        }
        if (streams.Count == 0) throw new InvalidDataException($"corpus {corpusDirectory} has no positive stream (generate it with --positives N)");
        return streams;
    }

    /// <summary>
    /// Keyword end to event, in ms of real time, for every ground-truth keyword the agent detected
    /// (detection end within [keyword start, keyword end + tolerance]). In live capture a block reaches the
    /// agent when its last sample has been recorded, so the event comes
    /// (end of the capture block holding the detector's keyword end - true keyword end) + decision latency
    /// after the speaker stopped: the audio-time part is exact from the stream positions, the processing part
    /// is the agent's measured decision latency (block delivered -> event).
    /// </summary>
    public static double[] KeywordEndToEventMs(AgentResult run, double[] keywordStartS, double[] keywordEndS, int blockSamples, double toleranceS)
    {
        var result = new List<double>();
        bool[] used = new bool[run.Detections.Count];
        for (int k = 0; k < keywordEndS.Length; k++)
        {
            for (int d = 0; d < run.Detections.Count; d++)
            {
                var det = run.Detections[d];
                if (used[d] || det.EndS < keywordStartS[k] || det.EndS > keywordEndS[k] + toleranceS || double.IsNaN(det.DecisionLatencyMs)) continue;
                used[d] = true;
                long endSample = (long)Math.Round(det.EndS * 16000);
                double blockEndS = Math.Ceiling(endSample / (double)blockSamples) * blockSamples / 16000.0;
                result.Add((blockEndS - keywordEndS[k]) * 1000 + det.DecisionLatencyMs);
                break;
            }
        }
        return [.. result];
    }

    /// <param name="Breakdown">FRR by tag and FA/hour by negative kind with intervals; null for a reused evaluation written before it existed.</param>
    public sealed record Accuracy(string Source, string EvaluationSet, double FaPerHour, double FalseRejectRate, long FalseAccepts, double NegativeHours,
        long Missed, long Keywords, double Threshold, StreamingDetPoint[] Curve, double Resolution, EvaluationBreakdown? Breakdown);

    /// <summary>The model's own evaluation next to its manifest ({id}-{version}.evaluation.json + .det.csv), or null if it has none.</summary>
    public static Accuracy? ReuseEvaluation(string manifest, KeywordModel model)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(manifest))!;
        string stem = ModelLabel(model);
        string json = Path.Combine(dir, stem + ".evaluation.json"), csv = Path.Combine(dir, stem + ".det.csv");
        if (!File.Exists(json) || !File.Exists(csv)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        JsonElement r = doc.RootElement;
        var curve = new List<StreamingDetPoint>();
        foreach (string line in File.ReadLines(csv).Skip(1))
        {
            string[] c = line.Split(',');
            if (c.Length < 7) continue;
            curve.Add(new StreamingDetPoint(float.Parse(c[0], CultureInfo.InvariantCulture), long.Parse(c[1], CultureInfo.InvariantCulture),
                double.Parse(c[2], CultureInfo.InvariantCulture), long.Parse(c[4], CultureInfo.InvariantCulture), long.Parse(c[5], CultureInfo.InvariantCulture)));
        }
        return new Accuracy($"reused: {Path.GetFileName(json)} (written by edgekws-model evaluate)", r.GetProperty("evaluationSet").GetString() ?? "",
            r.GetProperty("faPerHour").GetDouble(), r.GetProperty("falseRejectRate").GetDouble(), r.GetProperty("falseAccepts").GetInt64(),
            r.GetProperty("negativeHours").GetDouble(), r.GetProperty("missedKeywords").GetInt64(), r.GetProperty("keywords").GetInt64(),
            r.GetProperty("threshold").GetDouble(), [.. curve], r.GetProperty("faPerHourResolution").GetDouble(),
            r.TryGetProperty("breakdown", out JsonElement b) && b.ValueKind == JsonValueKind.Object ? b.Deserialize(EvaluationJsonContext.Default.EvaluationBreakdown) : null);
    }

    /// <summary>Runs the streaming evaluator (edgekws-model evaluate's code) on the corpus's held-out streams.</summary>
    public static Accuracy Evaluate(string manifest, string corpusDirectory)
    {
        var streams = CorpusStreams.Load(corpusDirectory, out string description);
        var e = StreamingEvaluator.Evaluate(manifest, streams, new StreamingEvaluationOptions { EvaluationSet = description });
        var r = e.Report;
        return new Accuracy($"measured now: streaming evaluator on {corpusDirectory}", description, r.FaPerHour, r.FalseRejectRate, r.FalseAccepts,
            r.NegativeHours, r.MissedKeywords, r.Keywords, r.Threshold, e.Curve, r.FaPerHourResolution, r.Breakdown);
    }
}
