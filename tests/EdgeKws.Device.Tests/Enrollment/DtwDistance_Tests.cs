using EdgeKws.Device.Enrollment;

namespace EdgeKws.Device.Tests.Enrollment;

public sealed class DtwDistance_Tests
{
    private const int Stride = 13;

    [Fact]
    public void Is_zero_for_identical_sequences_and_for_a_constant_offset()
    {
        float[] a = Sequence(40, 0);
        float[] shifted = (float[])a.Clone();
        for (int i = 0; i < shifted.Length; i++)
        {
            shifted[i] += 5f; // a channel/gain change: removed by the mean normalization (and C0 is ignored)
        }

        Assert.Equal(0, Distance(a, 40, a, 40), 9);
        Assert.Equal(0, Distance(a, 40, shifted, 40), 4);
    }

    [Fact]
    public void Is_small_for_a_time_stretched_copy_and_large_for_another_sequence()
    {
        float[] a = Sequence(40, 0);
        var stretched = new float[60 * Stride];
        for (int f = 0; f < 60; f++)
        {
            Array.Copy(a, (f * 40 / 60) * Stride, stretched, f * Stride, Stride);
        }

        float[] other = Sequence(40, 17);
        double warp = Distance(a, 40, stretched, 60);
        double different = Distance(a, 40, other, 40);
        Assert.True(warp < different / 5, $"stretched {warp}, different {different}");
    }

    [Fact]
    public void Is_symmetric()
    {
        float[] a = Sequence(30, 1);
        float[] b = Sequence(45, 2);
        Assert.Equal(Distance(a, 30, b, 45), Distance(b, 45, a, 30), 9);
    }

    [Fact]
    public void Rejects_a_scratch_buffer_that_is_too_short_with_the_size_needed()
    {
        float[] a = Sequence(10, 0);
        var mean = new double[Stride];
        var ex = Assert.Throws<ArgumentException>(() => DtwDistance.Compute(a, 10, mean, a, 10, mean, Stride, new double[5]));
        Assert.Contains("22 doubles", ex.Message, StringComparison.Ordinal);
    }

    private static double Distance(float[] a, int fa, float[] b, int fb)
    {
        var ma = new double[Stride];
        var mb = new double[Stride];
        DtwDistance.ComputeMean(a, fa, Stride, ma);
        DtwDistance.ComputeMean(b, fb, Stride, mb);
        return DtwDistance.Compute(a, fa, ma, b, fb, mb, Stride, new double[DtwDistance.ScratchLength(fb)]);
    }

    private static float[] Sequence(int frames, int seed)
    {
        var x = new float[frames * Stride];
        for (int f = 0; f < frames; f++)
        {
            for (int c = 0; c < Stride; c++)
            {
                x[(f * Stride) + c] = (float)(10 * Math.Sin((0.2 * f * (c + 1)) + (seed * 1.7 * c)));
            }
        }

        return x;
    }
}
