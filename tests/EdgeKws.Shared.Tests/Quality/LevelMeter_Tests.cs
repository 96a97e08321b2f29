using EdgeKws.Shared.Quality;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Quality;

public sealed class LevelMeter_Tests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("sine", -1.0)]
    [InlineData("sine", -6.0)]
    [InlineData("sine", -20.0)]
    [InlineData("sine", -40.0)]
    public void Reads_sox_tones_at_their_known_level_within_0_1_dB(string shape, double gainDb)
    {
        using var fx = new AudioFixtures();
        string raw = fx.PathOf("tone.s16");
        fx.Sox("-n", "-r", "16000", "-c", "1", "-e", "signed", "-b", "16", "-t", "raw", raw,
            "synth", "1", shape, "997", "gain", gainDb.ToString(System.Globalization.CultureInfo.InvariantCulture));
        float[] x = AudioFixtures.ReadS16(raw);

        var meter = new LevelMeter();
        meter.Push(x);
        LevelReading total = meter.Total;

        // sox synthesizes at full scale (peak 1.0) before the gain; a sine's RMS is its peak - 3.01 dB.
        // (sox's square wave rings at the edges, so the exact square case is generated in C# below.)
        double expectedRms = gainDb + 20 * Math.Log10(Math.Sqrt(0.5));
        output.WriteLine($"{shape} gain {gainDb} dB: peak {total.PeakDbFs:F3} dBFS, RMS {total.RmsDbFs:F3} dBFS (expected RMS {expectedRms:F3})");
        Assert.Equal(x.Length, total.SampleCount);
        Assert.InRange(total.PeakDbFs, gainDb - 0.1, gainDb + 0.1);
        Assert.InRange(total.RmsDbFs, expectedRms - 0.1, expectedRms + 0.1);
    }

    [Fact]
    public void Reads_a_full_scale_sine_as_minus_3_01_dBFS_rms_and_a_full_scale_square_as_0()
    {
        float[] sine = Signals.Sine(16_000, 1000, 32767.0 / 32768.0);
        var square = new float[16_000];
        for (int i = 0; i < square.Length; i++)
        {
            square[i] = (i / 8) % 2 == 0 ? 32767f / 32768f : -1f;
        }

        LevelReading s = LevelMeter.Measure(sine);
        LevelReading q = LevelMeter.Measure(square);

        Assert.InRange(s.RmsDbFs, -3.02, -3.00);
        Assert.InRange(s.PeakDbFs, -0.01, 0.0);
        Assert.InRange(q.RmsDbFs, -0.01, 0.0);
        Assert.InRange(s.CrestDb, 3.0, 3.02);
    }

    [Fact]
    public void Reports_the_last_completed_50_ms_window_for_a_live_meter()
    {
        var meter = new LevelMeter();
        Assert.Equal(800, meter.WindowSamples);

        meter.Push(Signals.Sine(799, 1000, 0.1));
        Assert.False(meter.TryGetWindow(out _));

        // 100 ms at -20 dBFS peak, then 100 ms at -40 dBFS peak: the window follows, the total averages.
        meter.Reset();
        meter.Push(Signals.Sine(1600, 1000, 0.1));
        Assert.True(meter.TryGetWindow(out LevelReading loud));
        meter.Push(Signals.Sine(1600, 1000, 0.01));
        Assert.True(meter.TryGetWindow(out LevelReading quiet));

        Assert.InRange(loud.PeakDbFs, -20.1, -19.9);
        Assert.InRange(quiet.PeakDbFs, -40.1, -39.9);
        Assert.InRange(quiet.RmsDbFs, -43.1, -42.9);
        Assert.Equal(800, quiet.SampleCount);
        Assert.InRange(meter.Total.RmsDbFs, -26.1, -25.9); // mean of 0.005 and 0.00005 -> -25.98 dBFS
    }

    [Fact]
    public void Reports_digital_silence_at_the_minus_120_dBFS_floor()
    {
        var meter = new LevelMeter();
        Assert.Equal(Dbfs.FloorDbFs, meter.Total.RmsDbFs);
        meter.Push(new float[1000]);
        Assert.Equal(-120.0, meter.Total.RmsDbFs);
        Assert.Equal(-120.0, meter.Total.PeakDbFs);
    }

    [Fact]
    public void Rejects_a_NaN_sample_naming_its_index_and_keeps_its_state()
    {
        var meter = new LevelMeter();
        meter.Push(Signals.Sine(100, 1000, 0.5));
        float[] bad = Signals.Sine(10, 1000, 0.5);
        bad[7] = float.NaN;

        var ex = Assert.Throws<ArgumentException>(() => meter.Push(bad));

        Assert.Contains("Sample 7", ex.Message);
        Assert.Equal(100, meter.SampleCount);
    }

    [Fact]
    public void Rejects_a_window_that_is_not_a_whole_number_of_samples()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new LevelMeter(44_100, 3));
        Assert.Contains("not a whole number of samples", ex.Message);
    }
}
