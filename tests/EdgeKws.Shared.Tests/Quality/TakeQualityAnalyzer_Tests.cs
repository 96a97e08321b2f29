using EdgeKws.Shared.Diagnostics;
using EdgeKws.Shared.Quality;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Quality;

public sealed class TakeQualityAnalyzer_Tests(ITestOutputHelper output)
{
    /// <summary>Documented state sizes (docs/quality-checks.md), 64-bit runtime.</summary>
    private const int LevelMeterBytes = 72;
    private const int ClippingDetectorBytes = 40;
    private const int SnrEstimatorBytes = 2928;
    private const int EnergyVadBytes = 240;
    private const int AnalyzerOwnBytes = 40;

    [Fact]
    public void Summarises_an_espeak_take_with_noise_lead_in()
    {
        using var fx = new AudioFixtures();
        float[] x = EspeakTake(fx);

        TakeQuality q = TakeQualityAnalyzer.Analyze(x);

        output.WriteLine(q.ToString());
        Assert.Equal(x.Length * 1000.0 / 16_000, q.DurationMs);
        Assert.InRange(q.Level.PeakDbFs, -6.0, 0.0);
        Assert.False(q.Clipping.ShowsClipping);
        Assert.NotNull(q.Snr);
        Assert.InRange(q.Snr.Value.SnrDb, 30.0, 45.0);
        Assert.NotNull(q.MainSpeech);
        Assert.InRange(q.MainSpeech.Value.StartMs, 550.0, 650.0);
        Assert.Equal(1, q.SpeechSegmentCount);
    }

    [Fact]
    public void Gives_identical_figures_whatever_the_block_size()
    {
        using var fx = new AudioFixtures();
        float[] x = EspeakTake(fx);
        TakeQuality whole = TakeQualityAnalyzer.Analyze(x);

        foreach (int blockSize in new[] { 1, 7, 160, 320, 333, 1024, 4096 })
        {
            var a = new TakeQualityAnalyzer();
            for (int at = 0; at < x.Length; at += blockSize)
            {
                a.Push(x.AsSpan(at, Math.Min(blockSize, x.Length - at)));
            }

            TakeQuality q = a.GetSummary();
            Assert.Equal(whole, q);
            Assert.Equal(whole.Level.MeanSquare, q.Level.MeanSquare); // bit-identical, not just close
        }
    }

    [Fact]
    public void Allocates_nothing_per_pushed_block_or_summary_after_construction()
    {
        float[] x = Signals.Noise(16_000, 0.01, seed: 21);
        var analyzer = new TakeQualityAnalyzer();
        var meter = new LevelMeter();
        var clip = new ClippingDetector();
        var snr = new SnrEstimator();
        var vad = new EnergyVad();
        Exercise(analyzer, meter, clip, snr, vad, x); // JIT and tiering out of the way

        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int round = 0; round < 20; round++)
            {
                Exercise(analyzer, meter, clip, snr, vad, x);
            }
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Reports_state_bytes_equal_to_the_documented_sum()
    {
        output.WriteLine($"LevelMeter {LevelMeter.StateBytes} B, ClippingDetector {ClippingDetector.StateBytes} B, " +
            $"SnrEstimator {SnrEstimator.StateBytes} B, EnergyVad {EnergyVad.StateBytes} B, TakeQualityAnalyzer {TakeQualityAnalyzer.StateBytes} B");

        Assert.Equal(LevelMeterBytes, LevelMeter.StateBytes);
        Assert.Equal(ClippingDetectorBytes, ClippingDetector.StateBytes);
        Assert.Equal(SnrEstimatorBytes, SnrEstimator.StateBytes);
        Assert.Equal(EnergyVadBytes, EnergyVad.StateBytes);
        Assert.Equal(AnalyzerOwnBytes + LevelMeterBytes + ClippingDetectorBytes + SnrEstimatorBytes + EnergyVadBytes,
            TakeQualityAnalyzer.StateBytes);
        Assert.True(TakeQualityAnalyzer.StateBytes < 4096, "take analysis must stay well inside a few KB");
    }

    [Fact]
    public void Holds_no_state_beyond_state_bytes_plus_object_headers()
    {
        // What the runtime actually allocates for each object: its fields (StateBytes) plus a
        // 16-byte header, rounded up to 8. Anything else (a hidden array, a boxed field) shows here.
        Assert.Equal(Heap(LevelMeter.StateBytes), Allocated(() => new LevelMeter()));
        Assert.Equal(Heap(ClippingDetector.StateBytes), Allocated(() => new ClippingDetector()));
        Assert.Equal(Heap(SnrEstimator.StateBytes), Allocated(() => new SnrEstimator()));
        Assert.Equal(Heap(EnergyVad.StateBytes), Allocated(() => new EnergyVad(VadSettings)));
    }

    private static readonly EnergyVadSettings VadSettings = new();

    private static long Heap(int stateBytes) => 16 + ((stateBytes + 7) / 8 * 8);

    private static long Allocated(Func<object> create)
    {
        create();
        object? kept = null;
        long allocated = AllocationMeter.BytesAllocated(() => kept = create());
        GC.KeepAlive(kept);
        return allocated;
    }

    private static void Exercise(TakeQualityAnalyzer analyzer, LevelMeter meter, ClippingDetector clip, SnrEstimator snr, EnergyVad vad, float[] x)
    {
        analyzer.Reset();
        meter.Reset();
        clip.Reset();
        snr.Reset();
        vad.Reset();
        for (int at = 0; at < x.Length; at += 160)
        {
            ReadOnlySpan<float> block = x.AsSpan(at, 160);
            analyzer.Push(block);
            meter.Push(block);
            clip.Push(block);
            snr.Push(block);
            vad.Push(block);
        }

        _ = analyzer.GetSummary();
        _ = meter.Total;
        _ = meter.TryGetWindow(out _);
        _ = clip.Reading;
        _ = snr.TryGetEstimate(out _);
        _ = vad.TryGetMainSegment(out _);
        _ = vad.SegmentCount;
    }

    /// <summary>espeak "hey computer", trimmed, 0.6 s before / 0.6 s after, white noise at about -55 dBFS mixed over it.</summary>
    private static float[] EspeakTake(AudioFixtures fx)
    {
        string wav = fx.Espeak("hey computer", "speech.wav");
        string trimmed = fx.PathOf("trimmed.wav");
        fx.Sox(wav, "-r", "16000", "-b", "16", trimmed, "silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse", "pad", "0.6", "0.6");
        float[] speech = fx.ToSamples(trimmed);
        float[] noise = Signals.Noise(speech.Length, 0.0018, seed: 5);
        for (int i = 0; i < speech.Length; i++)
        {
            speech[i] += noise[i];
        }

        Signals.QuantizeInt16(speech);
        return speech;
    }
}
