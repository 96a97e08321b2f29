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
