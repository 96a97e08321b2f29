using EdgeKws.Detection;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;

namespace EdgeKws.Device.Tests.Listening;

/// <summary>
/// Test audio for the real front end and the tone1k model (tools/models/make_test_model.py --preset tone1k):
/// white noise with 1 kHz tone bursts at known times, generated here (deterministic per seed).
/// </summary>
internal static class ListeningTestKit
{
    public const int RateHz = 16000;
    public const double BurstSeconds = 0.5;
    public const float BurstAmplitude = 0.3f;
    public const float NoiseRms = 0.01f;

    public static string ModelManifest => Path.Combine(AppContext.BaseDirectory, "fixtures", "models", "kws-tone1k-int8.manifest.json");

    public static KeywordDetector CreateDetector()
    {
        Assert.True(KeywordModel.TryLoad(ModelManifest, MfccConfig.Default.FeatureConfigHash, out KeywordModel? model, out string why), why);
        Assert.True(KeywordDetector.TryCreate(model!, null, out KeywordDetector? detector, out why), why);
        return detector!;
    }

    /// <summary>Noise of <paramref name="seconds"/> with a 0.5 s 1 kHz burst starting at each of <paramref name="burstStarts"/>
    /// (at <paramref name="amplitude"/>, default <see cref="BurstAmplitude"/>).</summary>
    public static short[] Synthesize(double seconds, IReadOnlyList<double> burstStarts, int seed = 7, float amplitude = BurstAmplitude)
    {
        var rng = new Random(seed);
        var samples = new short[(int)(seconds * RateHz)];
        for (int i = 0; i < samples.Length; i++)
        {
            // Uniform noise with the given RMS (uniform in [-a, a] has RMS a / sqrt(3)).
            double x = (rng.NextDouble() * 2 - 1) * NoiseRms * Math.Sqrt(3);
            samples[i] = Pcm16.ToInt16((float)x);
        }
        foreach (double start in burstStarts)
        {
            int s0 = (int)(start * RateHz);
            int n = (int)(BurstSeconds * RateHz);
            for (int i = 0; i < n && s0 + i < samples.Length; i++)
            {
                double tone = amplitude * Math.Sin(2 * Math.PI * 1000 * i / RateHz);
                samples[s0 + i] = Pcm16.ToInt16(Math.Clamp((samples[s0 + i] / 32768f) + (float)tone, -1f, 1f));
            }
        }
        return samples;
    }

    /// <summary>The highest smoothed score a fresh tone1k detector gives each window [start, start + 1.5 s) of <paramref name="samples"/>
    /// (the real front end, no pipeline).</summary>
    public static float[] PeakScores(short[] samples, IReadOnlyList<double> starts)
    {
        using KeywordDetector detector = CreateDetector();
        var mfcc = new MfccExtractor(MfccConfig.Default);
        int hop = MfccConfig.Default.HopSamples, c = MfccConfig.Default.CoefficientCount;
        float[] rows = new float[((samples.Length / hop) + 2) * c];
        int frames = mfcc.Push(samples, rows);
        float[] peaks = new float[starts.Count];
        for (int f = 0; f < frames; f++)
        {
            long before = detector.InferenceCount;
            detector.TryPushFrame(rows.AsSpan(f * c, c), out _);
            if (detector.InferenceCount == before)
            {
                continue;
            }
            double t = (f + 1) * hop / (double)RateHz;
            for (int i = 0; i < starts.Count; i++)
            {
                if (t >= starts[i] && t < starts[i] + 1.5)
                {
                    peaks[i] = Math.Max(peaks[i], detector.LastSmoothedScore);
                }
            }
        }
        return peaks;
    }

    /// <summary>
    /// A burst amplitude at which every burst of <paramref name="build"/>(amplitude) that starts at one of <paramref name="starts"/> peaks
    /// inside the near-miss band of the tone1k model at its own threshold: found by bisection between a tone that scores below the band
    /// and one that detects (the score rises steeply with the tone's level), so the near-miss tests do not depend on one measured figure.
    /// </summary>
    public static (float Amplitude, float[] Peaks, float Threshold) NearMissAmplitude(Func<float, short[]> build, IReadOnlyList<double> starts, double bandFraction = 0.5)
    {
        float threshold;
        using (KeywordDetector d = CreateDetector())
        {
            threshold = d.Threshold;
        }
        double floor = bandFraction * threshold, middle = (floor + threshold) / 2;
        var tried = new List<string>();
        float lo = 0.02f, hi = BurstAmplitude;
        for (int i = 0; i < 30; i++)
        {
            float a = (lo + hi) / 2;
            float[] peaks = PeakScores(build(a), starts);
            tried.Add($"{a:0.00000}: {string.Join("/", peaks.Select(p => p.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)))}");
            if (peaks.Min() >= floor * 1.05 && peaks.Max() < threshold * 0.97)
            {
                return (a, peaks, threshold);
            }
            (lo, hi) = peaks.Average() < middle ? (a, hi) : (lo, a);
        }
        Assert.Fail($"no tone amplitude puts every burst in the band [{floor}, {threshold}): {string.Join(", ", tried)}");
        return default;
    }

    public static string WriteWav(string path, short[] samples)
    {
        using (var w = new WavWriter(path, RateHz, 1, WavSampleFormat.Pcm16))
        {
            w.Write(samples);
        }
        return path;
    }

    /// <summary>Evenly spaced burst starts: first at <paramref name="first"/> s, then every <paramref name="every"/> s.</summary>
    public static double[] Starts(int count, double first = 1.5, double every = 2.0) =>
        Enumerable.Range(0, count).Select(i => first + (i * every)).ToArray();

    public static OutboxStore OpenOutbox(string dir, long quotaBytes = OutboxOptions.DefaultQuotaBytes) =>
        OutboxStore.Open(new OutboxOptions { DatabasePath = Path.Combine(dir, "outbox.db"), QuotaBytes = quotaBytes });

    public static ListeningPipelineOptions Options(string deviceId = "dev-pipe", bool consent = false, HeartbeatClock clock = HeartbeatClock.Stream,
        double heartbeatSeconds = 10, Action<OutboxMessageClass, EnqueueResult>? enqueued = null) => new()
        {
            DeviceId = deviceId,
            UploadRawAudio = consent,
            HeartbeatClock = clock,
            HeartbeatInterval = TimeSpan.FromSeconds(heartbeatSeconds),
            PreTriggerMs = 1000,
            PostTriggerMs = 500,
            Enqueued = enqueued,
        };
}

/// <summary>Records what the pipeline reports to its status sink.</summary>
internal sealed class RecordingSink : IAgentStatusSink
{
    public List<AgentStatus> Statuses { get; } = [];

    public List<DetectionNotice> Detections { get; } = [];

    /// <summary>Optional extra work at detection time (e.g. reading the pipeline's arrival probes).</summary>
    public Action<DetectionNotice>? OnDetected { get; set; }

    public void OnStatus(AgentStatus status)
    {
        lock (Statuses) Statuses.Add(status);
    }

    public void OnDetection(in DetectionNotice notice)
    {
        lock (Detections) Detections.Add(notice);
        OnDetected?.Invoke(notice);
    }
}
