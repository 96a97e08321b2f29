using EdgeKws.Shared.Audio;

namespace EdgeKws.Shared.Tests.Audio;

public sealed class Pcm16_Tests
{
    [Fact]
    public void ToFloat_divides_by_32768()
    {
        short[] s = [short.MinValue, -1, 0, 1, 16384, short.MaxValue];
        var f = new float[s.Length];
        Pcm16.ToFloat(s, f);
        Assert.Equal([-1f, -1f / 32768, 0f, 1f / 32768, 0.5f, 32767f / 32768], f);
    }

    [Fact]
    public void ToInt16_rounds_and_saturates()
    {
        float[] f = [-2f, -1f, -0.5f, 1.4f / 32768, 1.6f / 32768, 0.999f, 1f, 5f, float.NaN, float.PositiveInfinity];
        var s = new short[f.Length];
        Pcm16.ToInt16(f, s);
        Assert.Equal([short.MinValue, short.MinValue, (short)-16384, (short)1, (short)2, (short)32735, short.MaxValue, short.MaxValue, (short)0, short.MaxValue], s);
    }

    [Fact]
    public void Every_int16_survives_a_round_trip()
    {
        var s = new short[65536];
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = (short)(i - 32768);
        }

        var f = new float[s.Length];
        var back = new short[s.Length];
        Pcm16.ToFloat(s, f);
        Pcm16.ToInt16(f, back);
        Assert.Equal(s, back);
    }

    [Fact]
    public void Rejects_a_destination_shorter_than_the_source()
    {
        Assert.Throws<ArgumentException>(() => Pcm16.ToFloat(new short[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Pcm16.ToInt16(new float[4], new short[3]));
    }
}
