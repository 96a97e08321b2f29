using System.Diagnostics;
using System.Text.Json;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Shared.Features;

namespace EdgeKws.Agent;

/// <summary>
/// Raw timing samples for <c>--latency-out</c> (read by tools/EdgeKws.Bench): every detection's
/// decision latency with its keyword end, the managed bytes allocated while listening, and, with
/// <c>--time-frontend</c>, per-frame MFCC and per-window inference times of the product classes on the
/// same WAV. Only the bench asks for it; a normal run records nothing here.
/// </summary>
internal sealed class LatencyRecorder
{
    private readonly List<(double EndS, float Score, double DecisionLatencyMs)> _detections = [];

    public double[] MfccFrameUs { get; private set; } = [];
    public double[] InferenceMs { get; private set; } = [];
    public long ManagedAllocatedBytes { get; set; } = -1;

    /// <summary>Called on the audio thread per detection: detections are rare, so a list append is fine here.</summary>
    public void AddDetection(double endS, float score, double decisionLatencyMs) => _detections.Add((endS, score, decisionLatencyMs));

    /// <summary>
    /// Times the device front end and detector on <paramref name="wavPath"/> (at most
    /// <paramref name="maxSeconds"/> of it) the way the listening pipeline drives them: audio in
    /// blocks of <paramref name="blockSamples"/>, each hop's MFCC push timed on its own (one frame per
    /// 10 ms hop), each frame pushed to a second detector of the same model, the frames that ran the
    /// model timed as inferences. A separate detector, so the run that follows starts from a clean state.
    /// </summary>
    public void TimeFrontEnd(string wavPath, MfccConfig mfcc, KeywordModel model, int blockSamples, double maxSeconds)
    {
        if (!KeywordDetector.TryCreate(model, null, out KeywordDetector? detector, out string why))
        {
            throw new InvalidOperationException($"--time-frontend: cannot create a detector: {why}");
        }
        using (detector)
        {
            // A short untimed pass first: caches, lazily built runtime state and (in a JIT build) tier-up
            // would otherwise land in the first samples; then a clean detector state for the timed pass.
            Pass(wavPath, mfcc, detector!, blockSamples, Math.Min(3.0, maxSeconds), null, null);
            detector!.Reset();
            var mfccUs = new List<double>((int)Math.Min(maxSeconds * 100 + 1, 1 << 22));
            var inferenceMs = new List<double>((int)Math.Min(maxSeconds * 100 / Math.Max(detector.StrideFrames, 1) + 1, 1 << 20));
            Pass(wavPath, mfcc, detector, blockSamples, maxSeconds, mfccUs, inferenceMs);
            MfccFrameUs = [.. mfccUs];
            InferenceMs = [.. inferenceMs];
        }
    }

    private static void Pass(string wavPath, MfccConfig mfcc, KeywordDetector detector, int blockSamples, double maxSeconds,
        List<double>? mfccUs, List<double>? inferenceMs)
    {
        using var source = new WavReplaySource(wavPath, new WavReplayOptions { RealTime = false });
        var extractor = new MfccExtractor(mfcc);
        int hop = mfcc.HopSamples, coefficients = mfcc.CoefficientCount;
        long maxSamples = (long)(maxSeconds * mfcc.SampleRateHz);
        var audio = new short[Math.Max(blockSamples, hop)];
        var rows = new float[coefficients * 4];
        long samples = 0;
        double tickUs = 1e6 / Stopwatch.Frequency;
        while (samples < maxSamples)
        {
            int n = source.Read(audio, CancellationToken.None);
            if (n == 0) break;
            samples += n;
            for (int offset = 0; offset < n; offset += hop)
            {
                int len = Math.Min(hop, n - offset);
                long t0 = Stopwatch.GetTimestamp();
                int frames = extractor.Push(audio.AsSpan(offset, len), rows);
                long t1 = Stopwatch.GetTimestamp();
                // One frame per full hop once the first window is filled; a push that made several is split evenly.
                for (int f = 0; f < frames; f++) mfccUs?.Add((t1 - t0) * tickUs / frames);
                for (int f = 0; f < frames; f++)
                {
                    long inferences = detector.InferenceCount;
                    long s0 = Stopwatch.GetTimestamp();
                    detector.TryPushFrame(rows.AsSpan(f * coefficients, coefficients), out _);
                    if (detector.InferenceCount != inferences)
                    {
                        inferenceMs?.Add(Stopwatch.GetElapsedTime(s0).TotalMilliseconds);
                    }
                }
            }
        }
    }

    /// <summary>Writes the samples as JSON (hand-written with Utf8JsonWriter: no reflection under NativeAOT).</summary>
    public void Write(string path, double audioSeconds, double elapsedSeconds, long residentBytes, (double P50, double P99, int Count) pipelineInference)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("format", "edgekws-agent-latency/1");
        w.WriteString("architecture", System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant());
        w.WriteBoolean("nativeAot", !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported);
        w.WriteNumber("audioSeconds", audioSeconds);
        w.WriteNumber("elapsedSeconds", elapsedSeconds);
        w.WriteNumber("residentBytes", residentBytes);
        w.WriteNumber("peakResidentBytes", PeakResidentBytes());
        w.WriteNumber("managedAllocatedBytesWhileListening", ManagedAllocatedBytes);
        w.WriteStartObject("pipelineInferenceMs");
        WriteNumberOrNull(w, "p50", pipelineInference.P50);
        WriteNumberOrNull(w, "p99", pipelineInference.P99);
        w.WriteNumber("count", pipelineInference.Count);
        w.WriteEndObject();
        w.WriteStartArray("detections");
        foreach (var d in _detections)
        {
            w.WriteStartObject();
            w.WriteNumber("endS", d.EndS);
            w.WriteNumber("score", d.Score);
            WriteNumberOrNull(w, "decisionLatencyMs", d.DecisionLatencyMs);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteArray(w, "mfccFrameUs", MfccFrameUs);
        WriteArray(w, "inferenceMs", InferenceMs);
        w.WriteEndObject();
    }

    /// <summary>VmHWM from /proc/self/status (peak resident set), or -1 where there is none.</summary>
    private static long PeakResidentBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.TryParse(kb, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long v) ? v * 1024 : -1;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return -1;
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    private static void WriteArray(Utf8JsonWriter w, string name, double[] values)
    {
        w.WriteStartArray(name);
        foreach (double v in values) w.WriteNumberValue(Math.Round(v, 4));
        w.WriteEndArray();
    }
}
