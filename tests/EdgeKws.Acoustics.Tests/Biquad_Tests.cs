using EdgeKws.Shared.Diagnostics;
using Xunit.Abstractions;

namespace EdgeKws.Acoustics.Tests;

public sealed class Biquad_Tests(ITestOutputHelper output)
{
    private const int Fs = TestSignals.SampleRateHz;

    private static readonly double[] Frequencies = [60, 150, 400, 1000, 2000, 3000, 4500, 6000, 7500];

    public static TheoryData<BiquadSpec> Specs() => new()
    {
        new BiquadSpec(BiquadKind.LowPass, 1000, 0.7071),
        new BiquadSpec(BiquadKind.LowPass, 5000, 2.0),
        new BiquadSpec(BiquadKind.HighPass, 300, 0.7071),
        new BiquadSpec(BiquadKind.HighPass, 2000, 0.5),
        new BiquadSpec(BiquadKind.Peaking, 3000, 1.4, 6),
        new BiquadSpec(BiquadKind.Peaking, 500, 3.0, -9),
        new BiquadSpec(BiquadKind.LowShelf, 400, 0.7071, 6),
        new BiquadSpec(BiquadKind.HighShelf, 4000, 0.7071, -8),
        new BiquadSpec(BiquadKind.BandPass, 2000, 2.0),
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Measured_gain_of_a_steady_sine_equals_MagnitudeDb_within_0_1_dB(BiquadSpec spec)
    {
        var filter = new Biquad(spec, Fs);
        double worst = 0;
        foreach (double f in Frequencies)
        {
            filter.Reset();
            double measured = TestSignals.MeasuredGainDb(s => filter.Process(s), f);
            double predicted = filter.MagnitudeDb(f);
            worst = Math.Max(worst, Math.Abs(measured - predicted));
            Assert.True(Math.Abs(measured - predicted) <= 0.1, $"{spec} at {f} Hz: measured {measured:F3} dB, predicted {predicted:F3} dB");
        }

        output.WriteLine($"{spec}: largest |measured - predicted| {worst:F5} dB over {Frequencies.Length} frequencies");
    }

    [Fact]
    public void Peaking_eq_of_plus_6_dB_at_3_kHz_measures_plus_6_dB_at_3_kHz()
    {
        var filter = new Biquad(new BiquadSpec(BiquadKind.Peaking, 3000, 1.0, 6), Fs);
        double measured = TestSignals.MeasuredGainDb(s => filter.Process(s), 3000);
        output.WriteLine($"peaking +6 dB at 3 kHz: measured {measured:F4} dB, MagnitudeDb {filter.MagnitudeDb(3000):F6} dB");
        Assert.InRange(measured, 5.9, 6.1);
        Assert.Equal(6.0, filter.MagnitudeDb(3000), 9);
    }

    [Fact]
    public void Design_points_of_each_kind_are_where_the_cookbook_puts_them()
    {
        Assert.Equal(-3.01, new Biquad(new BiquadSpec(BiquadKind.LowPass, 1000, Math.Sqrt(0.5)), Fs).MagnitudeDb(1000), 2);
        Assert.Equal(-3.01, new Biquad(new BiquadSpec(BiquadKind.HighPass, 1000, Math.Sqrt(0.5)), Fs).MagnitudeDb(1000), 2);
        Assert.Equal(0.0, new Biquad(new BiquadSpec(BiquadKind.BandPass, 1000, 2), Fs).MagnitudeDb(1000), 9);
        Assert.Equal(3.0, new Biquad(new BiquadSpec(BiquadKind.LowShelf, 500, 0.7071, 6), Fs).MagnitudeDb(500), 9);
        Assert.Equal(6.0, new Biquad(new BiquadSpec(BiquadKind.LowShelf, 500, 0.7071, 6), Fs).MagnitudeDb(20), 1);
        Assert.Equal(-4.0, new Biquad(new BiquadSpec(BiquadKind.HighShelf, 4000, 0.7071, -8), Fs).MagnitudeDb(4000), 9);
    }

    [Fact]
    public void Processing_in_blocks_equals_processing_at_once_and_Reset_restarts()
    {
        var spec = new BiquadSpec(BiquadKind.Peaking, 1500, 2, 5);
        float[] input = TestSignals.Noise(3000, 5);
        float[] whole = (float[])input.Clone();
        new Biquad(spec, Fs).Process(whole);

        var filter = new Biquad(spec, Fs);
        float[] blocks = (float[])input.Clone();
        filter.Process(blocks.AsSpan(0, 1000));
        filter.Process(blocks.AsSpan(1000, 7));
        filter.Process(blocks.AsSpan(1007));
        Assert.Equal(whole, blocks);

        filter.Reset();
        float[] again = (float[])input.Clone();
        filter.Process(again);
        Assert.Equal(whole, again);
    }

    [Fact]
    public void Process_allocates_nothing()
    {
        var filter = new Biquad(new BiquadSpec(BiquadKind.LowPass, 3000, 0.7071), Fs);
        float[] block = TestSignals.Noise(1600, 1);
        filter.Process(block);
        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                filter.Process(block);
            }
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Rejects_frequencies_outside_0_to_nyquist_and_non_positive_q()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Biquad(new BiquadSpec(BiquadKind.LowPass, 8000, 0.7), Fs));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Biquad(new BiquadSpec(BiquadKind.LowPass, 0, 0.7), Fs));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Biquad(new BiquadSpec(BiquadKind.Peaking, 1000, 0, 3), Fs));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Biquad(new BiquadSpec(BiquadKind.Peaking, 1000, 1, double.NaN), Fs));
    }
}
