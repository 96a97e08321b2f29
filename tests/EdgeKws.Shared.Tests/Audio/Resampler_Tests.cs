using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Diagnostics;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Audio;

/// <summary>
/// Measures the resampler's quality against stated bounds and prints the figures
/// (run with <c>--logger "console;verbosity=detailed"</c> to see them).
/// </summary>
public sealed class Resampler_Tests(ITestOutputHelper output)
{
    private const int Out = 16000;

    // Bounds asserted below; the measured figures (docs/audio-io.md) clear them with margin.
    private const double MaxPassbandDeviationDb = 0.001;
    private const double MinAliasRejectionDb = 90;
    private const double MinImageRejectionDb = 90;
    private const double MinSineSnrDb = 90;
    private const double MinSoxAgreementDb = 90;

    public static TheoryData<int> CommonRates => [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000];

    [Theory]
    [MemberData(nameof(CommonRates))]
    public void Passband_is_flat_to_0_9_of_the_lower_Nyquist(int rate)
    {
        var r = new Resampler(rate, Out);
        double edge = Resampler.PassbandEdgeFraction * Math.Min(rate, Out) / 2;
        double worst = 0, worstHz = 0;
        for (double f = 50; f <= edge; f += edge / 40)
        {
            r.Reset();
            float[] y = Signal.Resample(r, Signal.Sine(rate / 2, f, rate, 0.5), chunk: 1000);
            double gainDb = 20 * Math.Log10(Signal.ToneAmplitude(y, f, Out, 1000, y.Length - 1000) / 0.5);
            if (Math.Abs(gainDb) > Math.Abs(worst))
            {
                (worst, worstHz) = (gainDb, f);
            }
        }

        output.WriteLine($"{rate} Hz -> {Out} Hz: L/M {r.UpFactor}/{r.DownFactor}, {r.TapsPerPhase} taps/output, state {r.StateBytes} B; passband 50..{edge:F0} Hz worst deviation {worst:+0.00000;-0.00000} dB at {worstHz:F0} Hz");
        Assert.InRange(Math.Abs(worst), 0, MaxPassbandDeviationDb);
    }

    [Theory]
    [InlineData(22050)]
    [InlineData(24000)]
    [InlineData(32000)]
    [InlineData(44100)]
    [InlineData(48000)]
    [InlineData(96000)]
    public void Rejects_tones_above_8_kHz_that_would_alias(int rate)
    {
        var r = new Resampler(rate, Out);
        double worst = double.MaxValue, worstHz = 0;
        foreach (double f in new[] { 8000.0, 8200, 8500, 9000, 10000, 12000, 15000, 20000, 30000, 45000 })
        {
            if (f >= rate / 2.0)
            {
                continue;
            }

            r.Reset();
            float[] y = Signal.Resample(r, Signal.Sine(rate / 2, f, rate, 0.5), chunk: 777);
            double rejectionDb = 20 * Math.Log10(0.5 / Math.Sqrt(2) / Signal.Rms(y, 1000, y.Length - 1000));
            output.WriteLine($"{rate} Hz: {f} Hz tone (aliases to {Math.Abs(f - (Math.Round(f / Out) * Out)):F0} Hz) rejected by {rejectionDb:F1} dB");
            if (rejectionDb < worst)
            {
                (worst, worstHz) = (rejectionDb, f);
            }
        }

        output.WriteLine($"{rate} Hz -> {Out} Hz: worst alias rejection {worst:F1} dB at {worstHz} Hz");
        Assert.True(worst > MinAliasRejectionDb, $"alias rejection {worst:F1} dB at {worstHz} Hz");
    }

    [Theory]
    [InlineData(8000, 1000)]
    [InlineData(8000, 3500)]
    [InlineData(11025, 2000)]
    [InlineData(12000, 5000)]
    public void Rejects_images_when_upsampling(int rate, double toneHz)
    {
        var r = new Resampler(rate, Out);
        float[] y = Signal.Resample(r, Signal.Sine(rate / 2, toneHz, rate, 0.5), chunk: 500);
        // The image at rate - f lies above 8 kHz for 11025/12000 Hz inputs and then folds to Out - (rate - f).
        double imageHz = rate - toneHz;
        imageHz = imageHz > Out / 2.0 ? Out - imageHz : imageHz;
        double image = Signal.ToneAmplitude(y, imageHz, Out, 1000, y.Length - 1000);
        double rejectionDb = 20 * Math.Log10(0.5 / image);
        output.WriteLine($"{rate} Hz -> {Out} Hz: {toneHz} Hz tone, image at {imageHz} Hz rejected by {rejectionDb:F1} dB");
        Assert.True(rejectionDb > MinImageRejectionDb, $"image rejection {rejectionDb:F1} dB");
    }

    [Theory]
    [MemberData(nameof(CommonRates))]
    public void Resampled_sine_matches_the_ideal_sine(int rate)
    {
        var r = new Resampler(rate, Out);
        double f = Math.Min(997.0, rate / 10.0);
        float[] y = Signal.Resample(r, Signal.Sine(rate, f, rate, 0.5, phase: 0.3), chunk: 4096);
        float[] ideal = Signal.Sine(y.Length, f, Out, 0.5, phase: 0.3);
        // The ends hold the filter's ramp-in against the implicit zeros before and after the signal.
        int edge = (r.LookAheadInputSamples * Out / rate) + 2;
        double snr = Signal.SnrDb(ideal, y, edge, y.Length - edge);
        output.WriteLine($"{rate} Hz -> {Out} Hz: {f} Hz sine SNR vs ideal {snr:F1} dB ({y.Length} samples, no delay compensation needed)");
        Assert.Equal((int)Math.Ceiling((double)rate * Out / rate), y.Length);
        Assert.True(snr > MinSineSnrDb, $"SNR {snr:F1} dB");
    }

    [Theory]
    [InlineData(44100)]
    [InlineData(48000)]
    [InlineData(22050)]
    [InlineData(8000)]
    public void Agrees_with_sox_rate_v(int rate)
    {
        using var dir = new TempDirectory();
        string input = dir.File("in.wav"), soxOut = dir.File("sox16k.wav");
        // A chirp exercises the whole passband, not a single frequency.
        Sox.Run("-D", "-n", "-r", rate.ToString(System.Globalization.CultureInfo.InvariantCulture), "-e", "floating-point", "-b", "32", input,
            "synth", "2", "sine", $"100:{0.8 * Math.Min(rate, Out) / 2:F0}", "vol", "0.5");
        Sox.Run("-D", input, "-e", "floating-point", "-b", "32", soxOut, "rate", "-v", "16000");

        float[] theirs = WavFile.ReadAllMono(soxOut, out _);
        float[] x = WavFile.ReadAllMono(input, out _);
        float[] ours = Signal.Resample(new Resampler(rate, Out), x, chunk: 1024);
        Assert.Equal(theirs.Length, ours.Length);
        double agreement = Signal.SnrDb(theirs, ours, 500, ours.Length - 500);
        output.WriteLine($"{rate} Hz -> {Out} Hz chirp 100..{0.8 * Math.Min(rate, Out) / 2:F0} Hz: ours vs sox 'rate -v' agree to {agreement:F1} dB ({ours.Length} samples)");
        Assert.True(agreement > MinSoxAgreementDb, $"agreement {agreement:F1} dB");
    }

    [Fact]
    public void Output_does_not_depend_on_how_the_input_is_chunked()
    {
        float[] x = Signal.Sine(20000, 1234, 44100, 0.7);
        float[] whole = Signal.Resample(new Resampler(44100), x, chunk: x.Length);
        Assert.Equal(whole, Signal.Resample(new Resampler(44100), x, chunk: 1));
        Assert.Equal(whole, Signal.Resample(new Resampler(44100), x, chunk: 441));
        Assert.Equal(whole, Signal.Resample(new Resampler(44100), x, chunk: 4097));
        Assert.Equal((int)Math.Ceiling(20000 * 160 / 441.0), whole.Length);
    }

    [Fact]
    public void Passes_16_kHz_through_unchanged()
    {
        float[] x = Signal.Sine(5000, 440, 16000, 0.9);
        var r = new Resampler(16000, 16000);
        Assert.Equal(1, r.TapsPerPhase);
        Assert.Equal(x, Signal.Resample(r, x, chunk: 333));
    }

    [Fact]
    public void Process_and_Flush_allocate_nothing()
    {
        var r = new Resampler(44100);
        float[] input = Signal.Sine(441, 500, 44100, 0.5);
        var output = new float[r.GetMaxOutputCount(input.Length)];
        var tail = new float[r.MaxFlushCount];
        // Warm-up of every method measured below: a first call's JIT and type loading can allocate on
        // this thread, and that is not what this test is about.
        r.Process(input, output);
        r.Flush(tail);
        r.Reset();
        r.Process(input, output);
        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                r.Process(input, output);
            }

            r.Flush(tail);
            r.Reset();
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Rejects_an_output_buffer_that_is_too_small()
    {
        var r = new Resampler(8000);
        var e = Assert.Throws<ArgumentException>(() => r.Process(new float[1000], new float[150]));
        Assert.Contains("GetMaxOutputCount", e.Message);
    }

    [Fact]
    public void Refuses_ratios_that_need_too_many_phases()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Resampler(44099));
        Assert.Contains("16000/44099", e.Message);
    }
}
