using Xunit.Abstractions;

namespace EdgeKws.Acoustics.Tests;

public sealed class RoomImpulseResponse_Tests(ITestOutputHelper output)
{
    private const int Fs = 16000;

    private static ShoeboxRoom RoomWithRt60(double length, double width, double height, double rt60) =>
        new(length, width, height, ShoeboxRoom.AbsorptionForEyringRt60(length, width, height, rt60));

    public static TheoryData<double, double, double, double, Point3, Point3> Rooms() => new()
    {
        { 4.0, 3.5, 2.5, 0.20, new Point3(1.2, 1.0, 1.5), new Point3(3.0, 2.4, 1.1) },
        { 5.0, 4.0, 2.7, 0.35, new Point3(1.5, 1.2, 1.6), new Point3(3.8, 2.9, 0.9) },
        { 6.0, 5.0, 3.0, 0.50, new Point3(2.0, 1.0, 1.7), new Point3(4.5, 3.7, 1.2) },
        { 7.0, 5.5, 3.0, 0.70, new Point3(1.0, 4.0, 1.5), new Point3(5.5, 1.5, 1.0) },
        { 8.0, 6.0, 3.2, 0.90, new Point3(2.5, 2.0, 1.2), new Point3(6.0, 4.5, 1.4) },
    };

    [Theory]
    [MemberData(nameof(Rooms))]
    public void Schroeder_rt60_is_within_15_percent_of_the_rooms_eyring_rt60(double length, double width, double height, double rt60, Point3 source, Point3 mic)
    {
        ShoeboxRoom room = RoomWithRt60(length, width, height, rt60);
        Assert.Equal(rt60, room.EyringRt60Seconds, 9);

        // Several tail seeds: the tolerance must hold for each realisation, not on average.
        for (ulong seed = 1; seed <= 3; seed++)
        {
            float[] response = RoomImpulseResponse.Generate(room, source, mic, seed);
            double measured = ReverberationTime.EstimateRt60Seconds(response, Fs);
            double error = (measured - rt60) / rt60;
            output.WriteLine($"room {length}x{width}x{height} a={room.Absorption:F3} seed {seed}: Eyring {rt60:F3} s, measured T20 {measured:F3} s, error {error:P1}");
            Assert.InRange(Math.Abs(error), 0, 0.15);
        }
    }

    [Fact]
    public void Direct_path_lands_on_sample_0_with_amplitude_1_and_is_the_strongest_sample()
    {
        ShoeboxRoom room = RoomWithRt60(6, 5, 3, 0.6);
        float[] response = RoomImpulseResponse.Generate(room, new Point3(1.3, 2.1, 1.55), new Point3(4.1, 3.3, 1.05), 5);

        Assert.Equal(1.0f, response[0]);
        Assert.Equal(1.0f, RoomImpulseResponse.Generate(room, new Point3(0.05, 0.05, 1.0), new Point3(5.9, 0.06, 1.1), 5)[0]); // grazing wall reflection
        for (int n = 1; n < response.Length; n++)
        {
            Assert.True(Math.Abs(response[n]) < 1.0f, $"sample {n} is {response[n]}");
        }
    }

    [Fact]
    public void Floor_reflection_arrives_at_the_image_source_delay_within_one_sample()
    {
        // Talker and mic 2 m apart at 1 m height in the middle of a 6 x 5 x 3 m room: the floor image at
        // z = -1 (path 2 sqrt 2 m) is the first reflection; the next (ceiling, 4.47 m) is far later.
        var room = new ShoeboxRoom(6, 5, 3, 0.3);
        var source = new Point3(2, 2.5, 1);
        var mic = new Point3(4, 2.5, 1);
        float[] response = RoomImpulseResponse.Generate(room, source, mic, 1);

        double expected = (Math.Sqrt(8) - 2) / 343 * Fs; // 38.6 samples after the direct path
        int peak = ArgMaxAbs(response, 5, 100);
        output.WriteLine($"floor reflection: expected at {expected:F2} samples, strongest sample in 5..100 at {peak} ({response[peak]:F4}; geometric amplitude {Math.Sqrt(0.7) * 2 / Math.Sqrt(8):F4})");
        Assert.InRange(peak, expected - 1, expected + 1);
    }

    [Fact]
    public void Without_delay_removal_the_direct_path_arrives_at_its_propagation_delay()
    {
        var room = new ShoeboxRoom(6, 5, 3, 0.3);
        var source = new Point3(1, 1, 1.5);
        var mic = new Point3(4, 3, 1.2);
        float[] response = RoomImpulseResponse.Generate(room, source, mic, 1, new RirOptions { RemoveDirectPathDelay = false });

        double expected = source.DistanceTo(mic) / 343 * Fs;
        int peak = ArgMaxAbs(response, 0, response.Length);
        Assert.InRange(peak, expected - 1, expected + 1);
    }

    [Theory]
    [InlineData(7.0, 5.0, 3.0, 0.5)]
    [InlineData(9.0, 7.0, 3.2, 0.8)]
    [InlineData(4.0, 3.5, 2.5, 0.3)]
    public void Larger_distance_gives_lower_direct_to_reverberant_ratio(double length, double width, double height, double rt60)
    {
        // Steps of about 3x in distance (-9.5 dB of direct energy). Smaller steps are not monotonic in
        // general: at a few metres the floor reflection arrives within the +-2.5 ms "direct" window and
        // counts as direct, which can lift the ratio by up to ~2.5 dB.
        ShoeboxRoom room = RoomWithRt60(length, width, height, rt60);
        var mic = new Point3(0.4, 0.6 * width, 1.3);
        double previous = double.PositiveInfinity;
        foreach (double distance in new[] { 0.3, 1.0, 3.0 })
        {
            float[] response = RoomImpulseResponse.Generate(room, mic with { X = mic.X + distance }, mic, 3);
            double drr = ReverberationTime.DirectToReverberantRatioDb(response, Fs);
            output.WriteLine($"{length}x{width}x{height} m, RT60 {rt60} s, distance {distance} m: DRR {drr:F1} dB");
            Assert.True(drr < previous - 3, $"DRR {drr:F1} dB at {distance} m is not at least 3 dB below {previous:F1} dB");
            previous = drr;
        }
    }

    [Fact]
    public void Same_seed_gives_identical_samples_and_another_seed_a_different_tail()
    {
        ShoeboxRoom room = RoomWithRt60(5, 4, 2.6, 0.4);
        var source = new Point3(1, 1, 1.5);
        var mic = new Point3(3.5, 3, 1);
        float[] a = RoomImpulseResponse.Generate(room, source, mic, 11);
        float[] b = RoomImpulseResponse.Generate(room, source, mic, 11);
        float[] c = RoomImpulseResponse.Generate(room, source, mic, 12);

        Assert.Equal(a, b);
        Assert.Equal(a.Length, c.Length);
        Assert.NotEqual(a, c);

        // The seed drives only the tail: the image-source part before the crossfade is the same.
        int crossfadeStart = (int)((80 - 5) / 1000.0 * Fs) - 1;
        Assert.Equal(a.AsSpan(0, crossfadeStart).ToArray(), c.AsSpan(0, crossfadeStart).ToArray());
    }

    [Fact]
    public void Length_is_the_transition_plus_one_rt60_capped_by_the_maximum()
    {
        ShoeboxRoom room = RoomWithRt60(5, 4, 2.6, 0.4);
        var source = new Point3(1, 1, 1.5);
        var mic = new Point3(3.5, 3, 1);
        float[] response = RoomImpulseResponse.Generate(room, source, mic, 1);
        Assert.InRange(response.Length, (int)((0.08 + 0.4) * Fs), (int)((0.08 + 0.4) * Fs) + 2);

        float[] capped = RoomImpulseResponse.Generate(room, source, mic, 1, new RirOptions { MaxLengthSeconds = 0.25 });
        Assert.Equal(4000, capped.Length);
    }

    [Fact]
    public void Physical_amplitude_without_normalisation_is_one_over_4_pi_r()
    {
        var room = new ShoeboxRoom(6, 5, 3, 0.3);
        var source = new Point3(1, 1, 1.5);
        var mic = new Point3(3, 1, 1.5);
        float[] response = RoomImpulseResponse.Generate(room, source, mic, 1, new RirOptions { NormaliseDirectPath = false });
        Assert.Equal(1 / (4 * Math.PI * 2), response[0], 6);
    }

    [Fact]
    public void Rejects_positions_outside_the_room_and_coincident_positions()
    {
        var room = new ShoeboxRoom(4, 3, 2.5, 0.3);
        Assert.Throws<ArgumentException>(() => RoomImpulseResponse.Generate(room, new Point3(5, 1, 1), new Point3(1, 1, 1), 1));
        Assert.Throws<ArgumentException>(() => RoomImpulseResponse.Generate(room, new Point3(1, 1, 1), new Point3(1, 1, 2.6), 1));
        Assert.Throws<ArgumentException>(() => RoomImpulseResponse.Generate(room, new Point3(1, 1, 1), new Point3(1, 1, 1.001), 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => RoomImpulseResponse.Generate(room, new Point3(1, 1, 1), new Point3(2, 2, 1), 1, new RirOptions { EarlyReflectionsMs = 5 }));
    }

    [Fact]
    public void Integer_positions_are_single_taps_and_fractional_ones_are_centred_sincs()
    {
        var buffer = new double[200];
        RoomImpulseResponse.AddFractionalImpulse(buffer, 50, 0.7);
        Assert.Equal(0.7, buffer[50]);
        Assert.Equal(0.7, buffer.Sum(), 12);

        Array.Clear(buffer);
        RoomImpulseResponse.AddFractionalImpulse(buffer, 100.5, 1.0);
        Assert.Equal(buffer[100], buffer[101], 12);       // symmetric about 100.5
        Assert.Equal(2 / Math.PI * 0.5 * (1 + Math.Cos(Math.PI * 0.5 / 40)), buffer[100], 12); // sinc(0.5) times the Hann window
        Assert.InRange(buffer.Sum(x => x * x), 0.97, 1.0); // keeps its energy but for the window's loss near Nyquist
    }

    private static int ArgMaxAbs(float[] samples, int from, int to)
    {
        int best = from;
        for (int n = from; n < to; n++)
        {
            if (Math.Abs(samples[n]) > Math.Abs(samples[best]))
            {
                best = n;
            }
        }

        return best;
    }
}
