namespace EdgeKws.Shared.Features;

/// <summary>
/// Analysis window applied to each frame, with Kaldi's definitions (symmetric, length = window
/// samples, <c>a = 2 pi n / (N - 1)</c>).
/// </summary>
public enum MfccWindow
{
    /// <summary>Kaldi's default: Hann raised to the power 0.85 (zero at both edges).</summary>
    Povey = 0,

    /// <summary>0.54 - 0.46 cos(a).</summary>
    Hamming = 1,

    /// <summary>0.5 - 0.5 cos(a) (Kaldi and torchaudio call it "hanning").</summary>
    Hann = 2,

    /// <summary>All ones.</summary>
    Rectangular = 3,
}
