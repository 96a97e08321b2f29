namespace EdgeKws.Shared.Quality;

/// <summary>
/// Peak and RMS of a stretch of samples, kept linear (so readings can be combined) and shown in
/// dBFS (0 dBFS = full-scale square wave; see <see cref="Dbfs"/>).
/// </summary>
/// <param name="PeakAmplitude">Largest |x| seen.</param>
/// <param name="MeanSquare">Mean of x² (power); RMS is its square root.</param>
/// <param name="SampleCount">Samples the reading covers.</param>
public readonly record struct LevelReading(float PeakAmplitude, double MeanSquare, long SampleCount)
{
    /// <summary>Peak level in dBFS (floored at <see cref="Dbfs.FloorDbFs"/>).</summary>
    public double PeakDbFs => Dbfs.FromAmplitude(PeakAmplitude);

    /// <summary>RMS level in dBFS; a full-scale sine reads -3.01 (floored at <see cref="Dbfs.FloorDbFs"/>).</summary>
    public double RmsDbFs => Dbfs.FromMeanSquare(MeanSquare);

    /// <summary>Crest factor in dB (peak minus RMS): 3.01 for a sine, 0 for a square wave.</summary>
    public double CrestDb => PeakDbFs - RmsDbFs;
}
