using Xunit.Abstractions;

namespace EdgeKws.Acoustics.Tests;

public sealed class ReverberationTime_Tests(ITestOutputHelper output)
{
    private const int Fs = 16000;

    /// <summary>Gaussian noise whose energy falls 60 dB every <paramref name="rt60"/> seconds.</summary>
    private static float[] DecayingNoise(double rt60, double seconds, ulong seed)
    {
        var random = new SplitMix64(seed);
        var samples = new float[(int)(seconds * Fs)];
        for (int n = 0; n < samples.Length; n++)
        {
            samples[n] = (float)(random.NextGaussian() * Math.Exp(-0.5 * Math.Log(1e6) * n / (rt60 * Fs)));
        }

        return samples;
    }

    [Theory]
    [InlineData(0.5, 1ul)]
    [InlineData(0.5, 2ul)]
    [InlineData(0.5, 3ul)]
    [InlineData(0.25, 4ul)]
    [InlineData(1.0, 5ul)]
    public void Recovers_the_decay_of_exponentially_decaying_noise_within_3_percent(double rt60, ulong seed)
    {
        double measured = ReverberationTime.EstimateRt60Seconds(DecayingNoise(rt60, 3 * rt60, seed), Fs);
        output.WriteLine($"true {rt60} s, measured {measured:F4} s, error {(measured - rt60) / rt60:P2}");
        Assert.InRange(measured, rt60 * 0.97, rt60 * 1.03);
    }

    [Fact]
    public void Throws_a_clear_message_when_the_decay_never_reaches_minus_25_dB()
    {
        // A constant of 100 samples: the backward integral ends at 1/100 of the total, -20 dB.
        var constant = Enumerable.Repeat(0.5f, 100).ToArray();
        var error = Assert.Throws<ArgumentException>(() => ReverberationTime.EstimateRt60Seconds(constant, Fs));
        Assert.Contains("never reaches -25 dB", error.Message);
        Assert.Contains("-20.0 dB", error.Message);

        Assert.Throws<ArgumentException>(() => ReverberationTime.EstimateRt60Seconds(new float[100], Fs));
        Assert.Throws<ArgumentException>(() => ReverberationTime.EstimateRt60Seconds([1f, 0f, 0f], Fs));
    }

    [Fact]
    public void Direct_to_reverberant_ratio_splits_at_2_5_ms_around_the_strongest_sample()
    {
        var response = new float[4000];
        response[1000] = -1.0f;     // strongest, by magnitude
        response[1040] = 0.5f;      // 2.5 ms later: still direct (energy 1.25)
        response[1041] = 0.5f;      // just outside: reverberant
        response[900] = 0.5f;       // outside before the peak
        for (int n = 2000; n < 2100; n++)
        {
            response[n] = 0.1f;     // energy 1
        }

        // Reverberant energy 0.25 + 0.25 + 1 = 1.5, direct 1.25.
        Assert.Equal(10 * Math.Log10(1.25 / 1.5), ReverberationTime.DirectToReverberantRatioDb(response, Fs), 5);
        Assert.Equal(double.PositiveInfinity, ReverberationTime.DirectToReverberantRatioDb([0f, 1f, 0.5f], Fs));
    }

    [Fact]
    public void Direct_to_reverberant_ratio_at_a_known_direct_index_ignores_a_stronger_later_pile_up()
    {
        var response = new float[2000];
        response[0] = 1.0f;         // direct path
        response[100] = 1.5f;       // coinciding reflections, 6.25 ms later
        Assert.Equal(10 * Math.Log10(1 / 2.25), ReverberationTime.DirectToReverberantRatioDb(response, Fs, directIndex: 0), 9);
        Assert.Equal(10 * Math.Log10(2.25 / 1), ReverberationTime.DirectToReverberantRatioDb(response, Fs), 9);
        Assert.Throws<ArgumentOutOfRangeException>(() => ReverberationTime.DirectToReverberantRatioDb(response, Fs, directIndex: 2000));
    }
}
