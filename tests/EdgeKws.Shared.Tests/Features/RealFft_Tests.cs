using EdgeKws.Shared.Features;

namespace EdgeKws.Shared.Tests.Features;

public sealed class RealFft_Tests
{
    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(512)]
    [InlineData(1024)]
    public void Power_spectrum_matches_a_direct_dft(int n)
    {
        var rng = new Random(n);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = rng.NextDouble() * 2 - 1;
        }

        var data = (double[])x.Clone();
        new RealFft(n).PowerSpectrumInPlace(data);

        double peak = 0;
        var expected = new double[n / 2 + 1];
        for (int k = 0; k <= n / 2; k++)
        {
            double re = 0, im = 0;
            for (int t = 0; t < n; t++)
            {
                re += x[t] * Math.Cos(2 * Math.PI * k * t / n);
                im -= x[t] * Math.Sin(2 * Math.PI * k * t / n);
            }

            expected[k] = re * re + im * im;
            peak = Math.Max(peak, expected[k]);
        }

        for (int k = 0; k < n / 2; k++)
        {
            Assert.True(Math.Abs(expected[k] - data[RealFft.PowerIndex(k)]) <= 1e-12 * peak, $"bin {k}: {expected[k]} vs {data[RealFft.PowerIndex(k)]}");
        }

        Assert.True(Math.Abs(expected[n / 2] - data[0]) <= 1e-12 * peak, "Nyquist bin");
    }

    [Fact]
    public void Pure_tone_on_a_bin_puts_its_energy_in_that_bin()
    {
        const int n = 512;
        var data = new double[n];
        for (int t = 0; t < n; t++)
        {
            data[t] = Math.Cos(2 * Math.PI * 37 * t / n);
        }

        new RealFft(n).PowerSpectrumInPlace(data);

        Assert.Equal((n / 2.0) * (n / 2.0), data[RealFft.PowerIndex(37)], 6);
        Assert.True(data[RealFft.PowerIndex(36)] < 1e-12);
        Assert.True(data[RealFft.PowerIndex(38)] < 1e-12);
    }

    [Fact]
    public void Rejects_sizes_that_are_not_powers_of_two_and_wrong_buffers()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RealFft(500));
        Assert.Throws<ArgumentException>(() => new RealFft(512).PowerSpectrumInPlace(new double[256]));
    }
}
