namespace EdgeKws.Acoustics.Tests;

public sealed class ShoeboxRoom_Tests
{
    [Fact]
    public void Volume_surface_and_reverberation_times_follow_the_formulas()
    {
        var room = new ShoeboxRoom(5, 4, 2.5, 0.2);
        Assert.Equal(50, room.VolumeM3, 12);
        Assert.Equal(2 * (20 + 12.5 + 10), room.SurfaceM2, 12);
        Assert.Equal(0.161 * 50 / (85 * 0.2), room.SabineRt60Seconds, 12);
        Assert.Equal(0.161 * 50 / (-85 * Math.Log(0.8)), room.EyringRt60Seconds, 12);
        Assert.True(room.EyringRt60Seconds < room.SabineRt60Seconds);
    }

    [Fact]
    public void Absorption_solved_for_an_eyring_rt60_gives_that_rt60()
    {
        double a = ShoeboxRoom.AbsorptionForEyringRt60(7, 5, 3, 0.45);
        Assert.Equal(0.45, new ShoeboxRoom(7, 5, 3, a).EyringRt60Seconds, 12);
    }

    [Fact]
    public void Contains_respects_the_margin()
    {
        var room = new ShoeboxRoom(4, 3, 2.5, 0.3);
        Assert.True(room.Contains(new Point3(0, 0, 0)));
        Assert.True(room.Contains(new Point3(0.3, 2.7, 2.2), 0.3));
        Assert.False(room.Contains(new Point3(0.29, 1, 1), 0.3));
        Assert.False(room.Contains(new Point3(1, 1, 2.21), 0.3));
        Assert.False(room.Contains(new Point3(4.01, 1, 1)));
    }

    [Fact]
    public void Rejects_invalid_dimensions_and_absorption_also_through_with()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShoeboxRoom(0, 3, 2.5, 0.3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShoeboxRoom(4, 3, double.NaN, 0.3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShoeboxRoom(4, 3, 2.5, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShoeboxRoom(4, 3, 2.5, 1));
        var room = new ShoeboxRoom(4, 3, 2.5, 0.3);
        Assert.Throws<ArgumentOutOfRangeException>(() => room with { Absorption = 1.5 });
        Assert.Throws<ArgumentOutOfRangeException>(() => room with { WidthM = -1 });
    }
}
