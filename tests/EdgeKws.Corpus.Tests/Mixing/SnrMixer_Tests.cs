using EdgeKws.Corpus.Mixing;

namespace EdgeKws.Corpus.Tests.Mixing;

public sealed class SnrMixer_Tests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(10.0)]
    [InlineData(25.0)]
    public void Noise_scaled_for_an_snr_measures_that_snr_over_the_speech_intervals(double snrDb)
    {
        var rng = new DeterministicRandom(5);
        var speech = new float[16_000];
        var intervals = new List<SampleInterval> { new(2_000, 6_000), new(9_000, 14_000) };
        foreach (SampleInterval iv in intervals)
        {
            for (int i = iv.Start; i < iv.End; i++)
            {
                speech[i] = (float)(0.2 * Math.Sin(i * 0.05) * (0.5 + rng.NextDouble()));
            }
        }

        var noise = new float[speech.Length];
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = (float)(rng.NextDouble() - 0.5);
        }

        float[] mixed = (float[])speech.Clone();
        SnrMixer.AddScaled(mixed, noise, SnrMixer.NoiseScaleForSnr(speech, noise, intervals, snrDb));
        Assert.Equal(snrDb, SnrMixer.MeasureSnrDb(speech, mixed, intervals), 3);
    }

    [Fact]
    public void Refuses_an_snr_for_silent_speech_with_a_message()
    {
        var silent = new float[100];
        var noise = Enumerable.Repeat(0.1f, 100).ToArray();
        var e = Assert.Throws<ArgumentException>(() => SnrMixer.NoiseScaleForSnr(silent, noise, [new SampleInterval(0, 100)], 10));
        Assert.Contains("speech", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Noise_silent_under_the_speech_but_not_elsewhere_is_set_by_its_power_over_the_whole_span()
    {
        // A generation of 28,800 clips stopped on one such clip (session 11): sparse noise with a gap under a short phrase.
        var speech = new float[1000];
        var intervals = new List<SampleInterval> { new(400, 600) };
        for (int i = 400; i < 600; i++)
        {
            speech[i] = 0.5f;
        }

        var noise = new float[1000];
        for (int i = 0; i < 300; i++)
        {
            noise[i] = i % 2 == 0 ? 0.1f : -0.1f;
        }

        double scale = SnrMixer.NoiseScaleForSnr(speech, noise, intervals, 10);
        // Speech power 0.25; noise power over the whole span 0.01 x 300 / 1000 = 0.003; 10 dB: 0.25 / (0.003 s^2) = 10.
        Assert.Equal(Math.Sqrt(0.25 / (0.003 * 10)), scale, 5);
        var e = Assert.Throws<ArgumentException>(() => SnrMixer.NoiseScaleForSnr(speech, new float[1000], intervals, 10));
        Assert.Contains("noise is silent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trim_finds_the_first_and_last_samples_above_the_threshold()
    {
        var x = new float[1000];
        x[100] = 0.5f;
        x[101] = 0.001f; // -54 dB below the peak: silence by the rule, but inside the speech span
        x[700] = -0.01f; // -34 dB below the peak: speech
        x[800] = 0.004f; // -42 dB: silence
        Assert.True(SpeechTrim.TryFindSpeech(x, out int start, out int end));
        Assert.Equal(100, start);
        Assert.Equal(701, end);
        Assert.False(SpeechTrim.TryFindSpeech(new float[50], out _, out _));
    }
}
