using System.Globalization;

namespace EdgeKws.Acoustics;

/// <summary>
/// One simulated room: its geometry, where talker and microphone stand, the room's Eyring RT60 and the RT60
/// and direct-to-reverberant ratio (around the direct path's sample) measured on the generated <see cref="ImpulseResponse"/>. Equality of the
/// record compares the array by reference; compare the samples with SequenceEqual.
/// </summary>
public sealed record SimulatedRoom(
    string Name,
    ShoeboxRoom Room,
    Point3 Source,
    Point3 Microphone,
    double DistanceM,
    double EyringRt60Seconds,
    double MeasuredRt60Seconds,
    double DirectToReverberantDb,
    float[] ImpulseResponse);

/// <summary>
/// Ranges a <see cref="RoomBank"/> draws from. Defaults: rooms from a small bedroom (3 x 3 x 2.3 m) to a
/// large living room or open kitchen (9 x 7 x 3.3 m), Eyring RT60 0.15-1.0 s, talker-microphone distance
/// 0.3-5 m, both at least 0.3 m from every wall and 0.7-1.8 m above the floor.
/// </summary>
public sealed record RoomBankRanges
{
    /// <summary>Room length (X), metres.</summary>
    public (double Min, double Max) LengthM { get; init; } = (3, 9);

    /// <summary>Room width (Y), metres.</summary>
    public (double Min, double Max) WidthM { get; init; } = (3, 7);

    /// <summary>Room height (Z), metres.</summary>
    public (double Min, double Max) HeightM { get; init; } = (2.3, 3.3);

    /// <summary>Eyring RT60, seconds; the absorption is solved from it.</summary>
    public (double Min, double Max) Rt60Seconds { get; init; } = (0.15, 1.0);

    /// <summary>Talker-microphone distance, metres (the upper end is lowered in rooms too small for it).</summary>
    public (double Min, double Max) DistanceM { get; init; } = (0.3, 5.0);

    /// <summary>Height of talker and microphone above the floor, metres (kept at least <see cref="WallMarginM"/> below the ceiling).</summary>
    public (double Min, double Max) PositionHeightM { get; init; } = (0.7, 1.8);

    /// <summary>Smallest distance from talker or microphone to any wall, metres.</summary>
    public double WallMarginM { get; init; } = 0.3;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first range that is empty, reversed or impossible.</summary>
    public void Validate()
    {
        Check(LengthM, nameof(LengthM));
        Check(WidthM, nameof(WidthM));
        Check(HeightM, nameof(HeightM));
        Check(Rt60Seconds, nameof(Rt60Seconds));
        Check(DistanceM, nameof(DistanceM));
        Check(PositionHeightM, nameof(PositionHeightM));
        if (!(WallMarginM >= 0) || 2 * WallMarginM >= Math.Min(LengthM.Min, WidthM.Min))
        {
            throw new ArgumentOutOfRangeException(nameof(WallMarginM), WallMarginM, "The wall margin must be non-negative and leave floor space in the smallest room.");
        }

        if (PositionHeightM.Min < WallMarginM || PositionHeightM.Min > HeightM.Min - WallMarginM)
        {
            throw new ArgumentOutOfRangeException(nameof(PositionHeightM), PositionHeightM, "Talker and microphone heights must fit between the floor margin and the lowest ceiling's margin.");
        }
    }

    private static void Check((double Min, double Max) range, string name)
    {
        if (!(double.IsFinite(range.Min) && double.IsFinite(range.Max) && range.Min > 0 && range.Min <= range.Max))
        {
            throw new ArgumentOutOfRangeException(name, range, $"{name} must be a positive range with Min <= Max.");
        }
    }
}

/// <summary>
/// A bank of simulated rooms drawn from a seed. Room i depends only on (seed, i, ranges, options), not on
/// how many rooms are asked for, so a name such as "ism-s42-007-rt0.45-d2.1m" always means the same response.
/// </summary>
public static class RoomBank
{
    /// <summary>1 / golden ratio: the additive recurrence u_i = frac(u_0 + i phi) spreads any prefix evenly over [0, 1).</summary>
    private const double InverseGoldenRatio = 0.6180339887498949;

    /// <summary>
    /// <paramref name="count"/> rooms, room i as <see cref="Create"/>. Names encode the seed, the index, the
    /// Eyring RT60 (2 decimals) and the distance (1 decimal).
    /// </summary>
    public static IReadOnlyList<SimulatedRoom> Generate(ulong seed, int count, RoomBankRanges? ranges = null, RirOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var rooms = new SimulatedRoom[count];
        for (int i = 0; i < count; i++)
        {
            rooms[i] = Create(seed, i, ranges, options);
        }

        return rooms;
    }

    /// <summary>
    /// Room <paramref name="index"/> of the bank of <paramref name="seed"/>. Length, width and height are
    /// uniform in their ranges. The Eyring RT60 is min + u (max - min) with u the golden-ratio sequence from a
    /// seeded start (so every prefix of the bank covers the RT60 range evenly) and the absorption is solved
    /// from it. The distance is uniform between its minimum and the smaller of its maximum and 0.9 times the
    /// diagonal of the box where talker and microphone may stand; a direction is drawn uniformly on the part of
    /// the sphere whose vertical component fits the height range until the distance fits along it (the distance
    /// shrinks by 5 % every 200 failed draws, which only very elongated boxes need), then the microphone
    /// uniformly where both ends are inside the box.
    /// </summary>
    public static SimulatedRoom Create(ulong seed, int index, RoomBankRanges? ranges = null, RirOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ranges ??= new RoomBankRanges();
        ranges.Validate();
        options ??= RirOptions.Default;

        var random = new SplitMix64(SplitMix64.Derive(seed, (ulong)index));
        double length = random.NextDouble(ranges.LengthM.Min, ranges.LengthM.Max);
        double width = random.NextDouble(ranges.WidthM.Min, ranges.WidthM.Max);
        double height = random.NextDouble(ranges.HeightM.Min, ranges.HeightM.Max);

        double start = new SplitMix64(SplitMix64.Derive(seed, ulong.MaxValue)).NextDouble();
        double u = start + index * InverseGoldenRatio;
        u -= Math.Floor(u);
        double rt60 = ranges.Rt60Seconds.Min + u * (ranges.Rt60Seconds.Max - ranges.Rt60Seconds.Min);
        var room = new ShoeboxRoom(length, width, height, ShoeboxRoom.AbsorptionForEyringRt60(length, width, height, rt60));

        (Point3 source, Point3 microphone) = Place(ref random, room, ranges);
        double distance = source.DistanceTo(microphone);
        float[] response = RoomImpulseResponse.Generate(room, source, microphone, random.NextUInt64(), options);

        // Around the known direct path: at a few metres, coinciding reflections can outweigh the direct sample.
        int directIndex = options.RemoveDirectPathDelay ? 0 : (int)Math.Round(distance / options.SpeedOfSoundMps * options.SampleRateHz);
        string name = string.Create(CultureInfo.InvariantCulture, $"ism-s{seed}-{index:D3}-rt{room.EyringRt60Seconds:F2}-d{distance:F1}m");
        return new SimulatedRoom(
            name, room, source, microphone, distance, room.EyringRt60Seconds,
            ReverberationTime.EstimateRt60Seconds(response, options.SampleRateHz),
            ReverberationTime.DirectToReverberantRatioDb(response, options.SampleRateHz, directIndex),
            response);
    }

    private static (Point3 Source, Point3 Microphone) Place(ref SplitMix64 random, ShoeboxRoom room, RoomBankRanges ranges)
    {
        double margin = ranges.WallMarginM;
        Span<double> low = [margin, margin, ranges.PositionHeightM.Min];
        Span<double> high = [room.LengthM - margin, room.WidthM - margin, Math.Min(ranges.PositionHeightM.Max, room.HeightM - margin)];
        double diagonal = Math.Sqrt(Square(high[0] - low[0]) + Square(high[1] - low[1]) + Square(high[2] - low[2]));
        double maxDistance = Math.Min(ranges.DistanceM.Max, 0.9 * diagonal);
        double minDistance = Math.Min(ranges.DistanceM.Min, maxDistance);
        double distance = random.NextDouble(minDistance, maxDistance);

        Span<double> direction = stackalloc double[3];
        Span<double> mic = stackalloc double[3];
        for (int attempt = 0; ; attempt++)
        {
            // Uniform on the band of the sphere whose vertical part fits the height range (z uniform in
            // [-zMax, zMax] is uniform on that band, as on the whole sphere), azimuth uniform.
            double zMax = Math.Min(1.0, (high[2] - low[2]) / distance);
            double z = random.NextDouble(-zMax, zMax);
            double azimuth = random.NextDouble(0, 2 * Math.PI);
            double horizontal = Math.Sqrt(1 - z * z);
            direction[0] = horizontal * Math.Cos(azimuth);
            direction[1] = horizontal * Math.Sin(azimuth);
            direction[2] = z;

            bool fits = true;
            for (int axis = 0; axis < 3 && fits; axis++)
            {
                fits = distance * Math.Abs(direction[axis]) <= high[axis] - low[axis];
            }

            if (!fits)
            {
                // 0.9 of the diagonal fits along directions near it, but rarely; shrink slowly if unlucky.
                if (attempt % 200 == 199)
                {
                    distance = Math.Max(minDistance, distance * 0.95);
                }

                continue;
            }

            for (int axis = 0; axis < 3; axis++)
            {
                double offset = distance * direction[axis];
                double from = Math.Max(low[axis], low[axis] - offset);
                double to = Math.Min(high[axis], high[axis] - offset);
                mic[axis] = random.NextDouble(from, to);
            }

            var microphone = new Point3(mic[0], mic[1], mic[2]);
            var source = new Point3(mic[0] + distance * direction[0], mic[1] + distance * direction[1], mic[2] + distance * direction[2]);
            return (source, microphone);
        }
    }

    private static double Square(double x) => x * x;
}
