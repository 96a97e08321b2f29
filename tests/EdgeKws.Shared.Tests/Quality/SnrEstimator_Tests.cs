using EdgeKws.Shared.Quality;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Quality;

public sealed class SnrEstimator_Tests(ITestOutputHelper output)
{
    /// <summary>Stated tolerance of the blind estimate on a stationary tone in white noise.</summary>
    private const double ToleranceDb = 1.0;

    [Theory]
    [InlineData(10.0)]
    [InlineData(20.0)]
    [InlineData(30.0)]
    public void Estimates_the_snr_of_a_tone_in_white_noise_with_noise_only_lead_in_and_tail(double targetSnrDb)
    {
        // 0.5 s noise, 1 s tone + noise, 0.5 s noise; noise at -50 dBFS RMS, quantized to int16.
        const int lead = 8000, tone = 16_000, tail = 8000;
        double noiseRms = Math.Pow(10, -50 / 20.0);
        float[] noise = Signals.Noise(lead + tone + tail, noiseRms, seed: (int)targetSnrDb);
        double sineAmplitude = Math.Sqrt(2 * noiseRms * noiseRms * Math.Pow(10, targetSnrDb / 10));
        float[] sine = Signals.Sine(tone, 997, sineAmplitude);
        float[] x = (float[])noise.Clone();
        for (int i = 0; i < tone; i++)
        {
            x[lead + i] += sine[i];
        }

        Signals.QuantizeInt16(x);
        // The true SNR of the generated parts over the tone stretch.
        double trueSnrDb = 10 * Math.Log10(Signals.MeanSquare(sine) / Signals.MeanSquare(noise.AsSpan(lead, tone)));

        var snr = new SnrEstimator();
        snr.Push(x);

        Assert.True(snr.TryGetEstimate(out SnrEstimate e));
        double error = e.SnrDb - trueSnrDb;
        output.WriteLine($"true {trueSnrDb:F2} dB, estimated {e.SnrDb:F2} dB, error {error:+0.00;-0.00} dB " +
            $"(floor {e.NoiseFloorDbFs:F2} dBFS, speech {e.SpeechLevelDbFs:F2} dBFS, {e.SpeechFrameCount}/{e.FrameCount} speech frames)");
        Assert.InRange(error, -ToleranceDb, ToleranceDb);
        Assert.Equal(100, e.FrameCount);
        Assert.InRange(e.SpeechFrameCount, 49, 51);
    }

    [Fact]
    public void Estimates_the_snr_of_espeak_speech_in_noise_within_3_dB()
    {
        using var fx = new AudioFixtures();
        string wav = fx.Espeak("hey computer", "speech.wav");
        string trimmed = fx.PathOf("trimmed.wav");
        fx.Sox(wav, "-r", "16000", trimmed, "silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse");
        float[] speech = fx.ToSamples(trimmed);

        // Noise 25 dB below the speech's mean power over its (trimmed) length.
        double speechPower = Signals.MeanSquare(speech);
        const double targetSnrDb = 25.0;
        double noiseRms = Math.Sqrt(speechPower / Math.Pow(10, targetSnrDb / 10));
        float[] noise = Signals.Noise(8000 + speech.Length + 8000, noiseRms, seed: 7);
        float[] x = (float[])noise.Clone();
        for (int i = 0; i < speech.Length; i++)
        {
            x[8000 + i] += speech[i];
        }

        double trueSnrDb = 10 * Math.Log10(speechPower / Signals.MeanSquare(noise));
        var snr = new SnrEstimator();
        snr.Push(x);

        Assert.True(snr.TryGetEstimate(out SnrEstimate e));
        double error = e.SnrDb - trueSnrDb;
        output.WriteLine($"espeak 'hey computer': true {trueSnrDb:F2} dB (mean speech power over the trimmed word), " +
            $"estimated {e.SnrDb:F2} dB, error {error:+0.00;-0.00} dB ({e.SpeechFrameCount}/{e.FrameCount} speech frames)");
        Assert.InRange(error, -3.0, 3.0);
    }

    [Fact]
    public void Reports_no_estimate_for_noise_alone()
    {
        var snr = new SnrEstimator();
        snr.Push(Signals.Noise(32_000, 0.01, seed: 3));

        Assert.False(snr.TryGetEstimate(out _));
        Assert.True(snr.TryGetPercentileDbFs(50, out double median));
        Assert.InRange(median, -40.5, -39.5);
    }

    [Fact]
    public void Reports_no_estimate_before_a_whole_frame()
    {
        var snr = new SnrEstimator();
        snr.Push(Signals.Sine(319, 1000, 0.5));

        Assert.Equal(0, snr.FrameCount);
        Assert.False(snr.TryGetEstimate(out _));
        Assert.False(snr.TryGetPercentileDbFs(10, out _));
    }

    [Fact]
    public void Places_percentiles_of_two_level_audio_in_the_right_level()
    {
        // 30 frames at -60 dBFS RMS (square), 70 frames at -20 dBFS RMS.
        var x = new float[100 * 320];
        for (int i = 0; i < x.Length; i++)
        {
            float a = i < 30 * 320 ? 0.001f : 0.1f;
            x[i] = i % 2 == 0 ? a : -a;
        }

        var snr = new SnrEstimator();
        snr.Push(x);

        Assert.True(snr.TryGetPercentileDbFs(10, out double p10));
        Assert.True(snr.TryGetPercentileDbFs(90, out double p90));
        Assert.InRange(p10, -60.0, -59.5);
        Assert.InRange(p90, -20.0, -19.5);
        Assert.True(snr.TryGetEstimate(out SnrEstimate e));
        Assert.Equal(70, e.SpeechFrameCount);
        Assert.InRange(e.SpeechLevelDbFs, -20.01, -19.99);
    }

    [Fact]
    public void Rejects_a_noise_percentile_above_50()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new SnrEstimator(noisePercentile: 90));
        Assert.Contains("Noise percentile must be in (0, 50]", ex.Message);
    }
}
