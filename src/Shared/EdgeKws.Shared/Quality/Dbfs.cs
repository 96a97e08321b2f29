namespace EdgeKws.Shared.Quality;

/// <summary>
/// Decibels relative to digital full scale for samples normalized to [-1, 1).
/// </summary>
/// <remarks>
/// Reference: 0 dBFS is the RMS of a full-scale square wave (mean square 1.0). With this
/// reference a full-scale sine reads -3.01 dBFS RMS and 0 dBFS peak; peak and RMS of a square
/// wave coincide. (AES17 instead calls a full-scale sine 0 dBFS; we do not.)
/// Silence and digital zero are reported as <see cref="FloorDbFs"/> rather than -infinity so
/// figures stay finite in heartbeats and JSON.
/// </remarks>
public static class Dbfs
{
    /// <summary>Lowest level ever reported, -120 dBFS (mean square 1e-12, amplitude 1e-6); well below one int16 LSB (-90.3 dBFS).</summary>
    public const double FloorDbFs = -120.0;

    /// <summary>Level in dBFS of a mean square (power) value; 10·log10(meanSquare), floored at <see cref="FloorDbFs"/>.</summary>
    public static double FromMeanSquare(double meanSquare) =>
        meanSquare > 1e-12 ? 10.0 * Math.Log10(meanSquare) : FloorDbFs;

    /// <summary>Level in dBFS of an absolute amplitude; 20·log10(amplitude), floored at <see cref="FloorDbFs"/>.</summary>
    public static double FromAmplitude(double amplitude) =>
        amplitude > 1e-6 ? 20.0 * Math.Log10(amplitude) : FloorDbFs;

    /// <summary>Mean square (power) of a level in dBFS; inverse of <see cref="FromMeanSquare"/>.</summary>
    public static double ToMeanSquare(double dbfs) => Math.Pow(10.0, dbfs / 10.0);
}
