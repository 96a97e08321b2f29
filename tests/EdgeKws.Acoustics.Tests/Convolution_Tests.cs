using EdgeKws.Shared.Diagnostics;
using Xunit.Abstractions;

namespace EdgeKws.Acoustics.Tests;

public sealed class Convolution_Tests(ITestOutputHelper output)
{
    public static TheoryData<int, int> Lengths() => new()
    {
        { 1, 1 }, { 1, 17 }, { 17, 1 }, { 2, 3 }, { 100, 37 }, { 37, 100 }, { 1000, 333 }, { 333, 1000 },
        { 513, 1025 }, { 4096, 4096 }, { 5000, 64 }, { 12_345, 1_777 }, { 800, 19_200 },
    };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Full_convolution_equals_direct_convolution_within_1e_5_of_the_peak(int signalLength, int responseLength)
    {
        float[] x = TestSignals.Noise(signalLength, (ulong)signalLength);
        float[] h = TestSignals.Noise(responseLength, 1000 + (ulong)responseLength);

        float[] fast = Convolution.Convolve(x, h);
        double[] reference = TestSignals.DirectConvolution(x, h);

        Assert.Equal(reference.Length, fast.Length);
        AssertClose(reference, fast);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Same_convolution_is_the_first_signal_length_samples_of_the_full_one(int signalLength, int responseLength)
    {
        float[] x = TestSignals.Noise(signalLength, 7 + (ulong)signalLength);
        float[] h = TestSignals.Noise(responseLength, 9 + (ulong)responseLength);

        float[] same = Convolution.ConvolveSame(x, h);
        double[] reference = TestSignals.DirectConvolution(x, h);

        Assert.Equal(signalLength, same.Length);
        AssertClose(reference.AsSpan(0, signalLength), same);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(30_001)]
    public void Convolving_with_a_unit_impulse_returns_the_signal(int length)
    {
        float[] x = TestSignals.Noise(length, 3);
        float[] same = Convolution.ConvolveSame(x, [1f]);
        float[] delayed = Convolution.Convolve(x, [0f, 0f, 1f]);

        for (int n = 0; n < length; n++)
        {
            Assert.True(Math.Abs(same[n] - x[n]) <= 1e-6, $"sample {n}: {same[n]} vs {x[n]}");
            Assert.True(Math.Abs(delayed[n + 2] - x[n]) <= 1e-6, $"sample {n + 2}: {delayed[n + 2]} vs {x[n]}");
        }

        Assert.True(Math.Abs(delayed[0]) <= 1e-6 && Math.Abs(delayed[1]) <= 1e-6);
    }

    [Fact]
    public void Same_convolution_with_a_generated_room_response_keeps_event_timing()
    {
        // A click at 0.5 s through a reverberant room (delay removed): the dry click is still the strongest
        // sample and still at 0.5 s, with its level kept. (Not a symmetric placement: with y_source + y_mic equal
        // to the width, the two side-wall images coincide and their sum can outweigh the direct path.)
        var room = new ShoeboxRoom(6, 5, 3, ShoeboxRoom.AbsorptionForEyringRt60(6, 5, 3, 0.6));
        float[] response = RoomImpulseResponse.Generate(room, new Point3(1, 1.5, 1.6), new Point3(4.5, 3.2, 1.0), 1);
        var signal = new float[16000];
        signal[8000] = 0.5f;

        float[] wet = Convolution.ConvolveSame(signal, response);
        int peak = 0;
        for (int n = 0; n < wet.Length; n++)
        {
            peak = Math.Abs(wet[n]) > Math.Abs(wet[peak]) ? n : peak;
        }

        Assert.Equal(8000, peak);
        Assert.Equal(0.5f, wet[8000], 5);
        Assert.All(wet.AsSpan(0, 8000).ToArray(), v => Assert.True(Math.Abs(v) < 1e-6));
    }

    [Fact]
    public void Allocation_does_not_grow_with_the_signal_length()
    {
        // Caller-owned destination: only the per-call FFT tables and block buffers are allocated, so a
        // signal four times longer (more blocks, same FFT size) allocates the same.
        float[] h = TestSignals.Noise(1000, 1);
        float[] shortSignal = TestSignals.Noise(100_000, 2), longSignal = TestSignals.Noise(400_000, 3);
        float[] shortOut = new float[shortSignal.Length], longOut = new float[longSignal.Length];
        Assert.Equal(Convolution.ChooseFftSize(h.Length, shortSignal.Length), Convolution.ChooseFftSize(h.Length, longSignal.Length));

        // AllocationMeter re-measures a non-zero reading: the runtime can charge this thread for its own work during
        // one call (seen once in CI: 7.7 KB more in the short call than in the long one).
        Convolution.Convolve(shortSignal, h, shortOut); // warm up
        Convolution.Convolve(longSignal, h, longOut);
        long shortBytes = AllocationMeter.BytesAllocated(() => Convolution.Convolve(shortSignal, h, shortOut));
        long longBytes = AllocationMeter.BytesAllocated(() => Convolution.Convolve(longSignal, h, longOut));

        Assert.Equal(shortBytes, longBytes);
    }

    [Fact]
    public void Rejects_empty_inputs_and_a_destination_longer_than_the_full_convolution()
    {
        Assert.Throws<ArgumentException>(() => Convolution.Convolve([], [1f]));
        Assert.Throws<ArgumentException>(() => Convolution.ConvolveSame([1f], []));
        Assert.Throws<ArgumentException>(() => Convolution.Convolve([1f, 2f], [1f, 2f], new float[4]));
    }

    private void AssertClose(ReadOnlySpan<double> reference, ReadOnlySpan<float> actual)
    {
        double peak = 0;
        foreach (double v in reference)
        {
            peak = Math.Max(peak, Math.Abs(v));
        }

        double worst = 0;
        for (int n = 0; n < reference.Length; n++)
        {
            worst = Math.Max(worst, Math.Abs(reference[n] - actual[n]));
        }

        output.WriteLine($"{reference.Length} outputs: largest error {worst / peak:E2} of the peak");
        Assert.True(worst <= 1e-5 * peak, $"largest error {worst:E2} against peak {peak:F3} ({worst / peak:E2} relative)");
    }
}
