namespace EdgeKws.Acoustics;

/// <summary>
/// Shoebox room with one frequency-independent absorption coefficient for all six surfaces (0 &lt; a &lt; 1).
/// The room spans [0, LengthM] x [0, WidthM] x [0, HeightM]. Dimensions and absorption are checked on
/// construction and on <c>with</c>.
/// </summary>
public sealed record ShoeboxRoom(double LengthM, double WidthM, double HeightM, double Absorption)
{
    /// <summary>Sabine's constant 24 ln(10) / c for c = 343 m/s, the usual 0.161 s/m.</summary>
    public const double SabineConstant = 0.161;

    /// <summary>Length along X, metres (&gt; 0).</summary>
    public double LengthM { get; init => field = Positive(value, nameof(LengthM)); } = Positive(LengthM, nameof(LengthM));

    /// <summary>Width along Y, metres (&gt; 0).</summary>
    public double WidthM { get; init => field = Positive(value, nameof(WidthM)); } = Positive(WidthM, nameof(WidthM));

    /// <summary>Height along Z, metres (&gt; 0).</summary>
    public double HeightM { get; init => field = Positive(value, nameof(HeightM)); } = Positive(HeightM, nameof(HeightM));

    /// <summary>Energy absorption coefficient of every surface, in (0, 1); the pressure reflection coefficient is sqrt(1 - a).</summary>
    public double Absorption { get; init => field = Fraction(value, nameof(Absorption)); } = Fraction(Absorption, nameof(Absorption));

    /// <summary>Volume V in cubic metres.</summary>
    public double VolumeM3 => LengthM * WidthM * HeightM;

    /// <summary>Total surface S in square metres (walls, floor and ceiling).</summary>
    public double SurfaceM2 => 2.0 * (LengthM * WidthM + LengthM * HeightM + WidthM * HeightM);

    /// <summary>Sabine reverberation time 0.161 V / (S a), seconds.</summary>
    public double SabineRt60Seconds => SabineConstant * VolumeM3 / (SurfaceM2 * Absorption);

    /// <summary>
    /// Eyring reverberation time 0.161 V / (-S ln(1 - a)), seconds. This is the decay the image sources
    /// of a uniformly absorbing shoebox follow on average, so it is the target of the simulated tail.
    /// </summary>
    public double EyringRt60Seconds => SabineConstant * VolumeM3 / (-SurfaceM2 * Math.Log(1.0 - Absorption));

    /// <summary>True when <paramref name="p"/> is inside the room and at least <paramref name="marginM"/> from every surface.</summary>
    public bool Contains(Point3 p, double marginM = 0) =>
        p.X >= marginM && p.X <= LengthM - marginM &&
        p.Y >= marginM && p.Y <= WidthM - marginM &&
        p.Z >= marginM && p.Z <= HeightM - marginM;

    /// <summary>
    /// The absorption coefficient giving Eyring reverberation time <paramref name="rt60Seconds"/> in a room of
    /// these dimensions: a = 1 - exp(-0.161 V / (S T)).
    /// </summary>
    public static double AbsorptionForEyringRt60(double lengthM, double widthM, double heightM, double rt60Seconds)
    {
        Positive(rt60Seconds, nameof(rt60Seconds));
        double volume = Positive(lengthM, nameof(lengthM)) * Positive(widthM, nameof(widthM)) * Positive(heightM, nameof(heightM));
        double surface = 2.0 * (lengthM * widthM + lengthM * heightM + widthM * heightM);
        return 1.0 - Math.Exp(-SabineConstant * volume / (surface * rt60Seconds));
    }

    private static double Positive(double value, string name) =>
        double.IsFinite(value) && value > 0
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a positive finite number.");

    private static double Fraction(double value, string name) =>
        value > 0 && value < 1
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in (0, 1) (0 never decays, 1 has no reflections).");
}
