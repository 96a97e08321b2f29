namespace EdgeKws.Shared.Quality;

/// <summary>Result of a blind (reference-free) SNR estimate; see <see cref="SnrEstimator"/> for the method.</summary>
/// <param name="SnrDb">Estimated speech-to-noise ratio in dB, with the noise power taken out of the speech level.</param>
/// <param name="NoiseFloorDbFs">Noise floor: the low percentile of frame levels, in dBFS.</param>
/// <param name="SpeechLevelDbFs">Mean power of the frames counted as speech (speech plus noise), in dBFS.</param>
/// <param name="SpeechFrameCount">Frames at least the speech margin above the noise floor.</param>
/// <param name="FrameCount">All frames analysed.</param>
public readonly record struct SnrEstimate(
    double SnrDb,
    double NoiseFloorDbFs,
    double SpeechLevelDbFs,
    int SpeechFrameCount,
    int FrameCount);
