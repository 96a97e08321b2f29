using EdgeKws.Shared.Quality;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Quality;

public sealed class ClippingDetector_Tests(ITestOutputHelper output)
{
    [Fact]
    public void Flags_a_sox_hard_clipped_sine_as_clipping()
    {
        using var fx = new AudioFixtures();
        string raw = fx.PathOf("clipped.s16");
        // +6 dB on a full-scale sine, synthesized at 16 kHz (no resampling): sox clips it at the
        // int16 limits, leaving flat tops.
        fx.Sox("-r", "16000", "-n", "-r", "16000", "-c", "1", "-e", "signed", "-b", "16", "-t", "raw", raw, "synth", "1", "sine", "440", "gain", "6");
        float[] x = AudioFixtures.ReadS16(raw);

        var detector = new ClippingDetector();
        detector.Push(x);
        ClippingReading r = detector.Reading;

        output.WriteLine($"hard-clipped sine: ratio {r.ClippedRatio:P2}, runs {r.ClippedRunCount}, longest {r.LongestRunSamples}");
        // A sine clipped at half its peak (|sin| >= 0.5 beyond 30 degrees) spends 2/3 of each period at the
        // rails, in two flat tops per period.
        Assert.InRange(r.ClippedRatio, 0.64, 0.69);
        Assert.InRange(r.ClippedRunCount, 2 * 440 - 2, 2 * 440);
        Assert.True(r.ShowsClipping);
    }

    [Fact]
    public void Flags_a_clipped_then_resampled_sine_by_ratio_though_its_tops_are_no_longer_flat()
    {
        using var fx = new AudioFixtures();
        string raw = fx.PathOf("clipped-resampled.s16");
        // Synthesized at sox's default 48 kHz, clipped by the gain, then resampled to 16 kHz: the
        // resampler's ringing breaks the flat tops into alternating 32767 / 3276x codes.
        fx.Sox("-n", "-r", "16000", "-c", "1", "-e", "signed", "-b", "16", "-t", "raw", raw, "synth", "1", "sine", "440", "gain", "6");
        float[] x = AudioFixtures.ReadS16(raw);

        var detector = new ClippingDetector();
        detector.Push(x);
        ClippingReading r = detector.Reading;

        output.WriteLine($"clipped then resampled: ratio {r.ClippedRatio:P2}, runs {r.ClippedRunCount}, longest {r.LongestRunSamples}");
        Assert.True(r.LongestRunSamples < QualityThresholds.MinClippedRunSamples);
        Assert.True(r.ClippedRatio > QualityThresholds.MaxClippedSampleRatio);
        Assert.True(r.ShowsClipping);
    }

    [Fact]
    public void Does_not_flag_a_single_full_scale_peak()
    {
        float[] x = Signals.Sine(16_000, 440, 0.1);
        x[8000] = 32767f / 32768f;

        var detector = new ClippingDetector();
        detector.Push(x);
        ClippingReading r = detector.Reading;

        Assert.Equal(1, r.ClippedSampleCount);
        Assert.Equal(0, r.ClippedRunCount);
        Assert.Equal(1, r.LongestRunSamples);
        Assert.False(r.ShowsClipping);
    }

    [Fact]
    public void Counts_a_run_of_three_but_not_of_two_and_counts_a_run_across_blocks_once()
    {
        float[] x = new float[100];
        x[10] = x[11] = -1f;                 // run of 2: a peak, not a run
        x[50] = x[51] = x[52] = x[53] = 1f;  // run of 4, split across the two blocks below

        var detector = new ClippingDetector();
        detector.Push(x.AsSpan(0, 52));
        detector.Push(x.AsSpan(52));
        ClippingReading r = detector.Reading;

        Assert.Equal(6, r.ClippedSampleCount);
        Assert.Equal(1, r.ClippedRunCount);
        Assert.Equal(4, r.LongestRunSamples);
        Assert.True(r.ShowsClipping);
    }

    [Fact]
    public void Ends_a_run_where_the_sign_flips()
    {
        float[] x = [1f, 1f, -1f, -1f, 1f, 1f];

        var detector = new ClippingDetector();
        detector.Push(x);

        Assert.Equal(0, detector.Reading.ClippedRunCount);
        Assert.Equal(2, detector.Reading.LongestRunSamples);
    }

    [Fact]
    public void Flags_many_isolated_full_scale_samples_by_ratio_alone()
    {
        // 20 lone full-scale samples in 16000 = 0.125 % > 0.1 %, no runs.
        float[] x = Signals.Sine(16_000, 440, 0.1);
        for (int i = 0; i < 20; i++)
        {
            x[400 + i * 700] = -1f;
        }

        var detector = new ClippingDetector();
        detector.Push(x);

        Assert.Equal(0, detector.Reading.ClippedRunCount);
        Assert.Equal(0.00125, detector.Reading.ClippedRatio, 9);
        Assert.True(detector.Reading.ShowsClipping);
    }

    [Fact]
    public void Uses_a_configurable_clip_level()
    {
        float[] x = [0.9995f, 0.9995f, 0.9995f, 0.5f];

        var strict = new ClippingDetector();
        var loose = new ClippingDetector(clipLevel: 0.999f);
        strict.Push(x);
        loose.Push(x);

        Assert.Equal(0, strict.Reading.ClippedSampleCount);
        Assert.Equal(3, loose.Reading.ClippedSampleCount);
        Assert.Equal(1, loose.Reading.ClippedRunCount);
    }

    [Fact]
    public void Rejects_a_run_length_of_one_with_a_reason()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new ClippingDetector(minRunSamples: 1));
        Assert.Contains("one full-scale sample is a peak", ex.Message);
    }
}
