using EdgeKws.Shared.Features;

namespace EdgeKws.Shared.Tests.Features;

public sealed class DeterministicMath_Tests
{
    private static void Close(double expected, double actual, double relative = 1e-14)
    {
        double tolerance = relative * Math.Max(1.0, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected:R}, got {actual:R}");
    }

    [Fact]
    public void Log_agrees_with_the_platform_over_many_decades()
    {
        for (double x = 1e-300; x < 1e300; x *= 1.37)
        {
            Close(Math.Log(x), DeterministicMath.Log(x));
        }

        Close(Math.Log(5e-320), DeterministicMath.Log(5e-320)); // subnormal
        Assert.Equal(0.0, DeterministicMath.Log(1.0));
    }

    [Fact]
    public void Exp_and_Pow_agree_with_the_platform()
    {
        for (double x = -690; x < 690; x += 0.731)
        {
            Close(Math.Exp(x), DeterministicMath.Exp(x), 1e-13);
        }

        for (double x = 0.001; x <= 1; x += 0.0173)
        {
            Close(Math.Pow(x, 0.85), DeterministicMath.Pow(x, 0.85));
        }

        Assert.Equal(0.0, DeterministicMath.Pow(0, 0.85));
    }

    [Fact]
    public void Sin_and_Cos_agree_with_the_platform()
    {
        for (double x = -200; x < 200; x += 0.0371)
        {
            Close(Math.Sin(x), DeterministicMath.Sin(x), 1e-13);
            Close(Math.Cos(x), DeterministicMath.Cos(x), 1e-13);
        }
    }

    [Fact]
    public void Rejects_arguments_outside_the_supported_domain()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Log(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Log(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Exp(800));
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Sin(1e6));
    }
}
