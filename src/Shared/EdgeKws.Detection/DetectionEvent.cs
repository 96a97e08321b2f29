namespace EdgeKws.Detection;

/// <summary>
/// One keyword detection. A value type holding references to strings the detector already owns,
/// so raising one allocates nothing.
/// </summary>
/// <param name="Score">Smoothed keyword posterior that crossed the threshold.</param>
/// <param name="RawScore">The model's keyword posterior at this inference, before smoothing.</param>
/// <param name="EndFrameIndex">Index (from 0, since the detector started or was reset) of the newest
/// MFCC frame in the window that fired: the keyword has ended by this frame.</param>
/// <param name="EndStreamTimeMs">Stream time at the end of that frame's hop: (EndFrameIndex + 1) * hop.</param>
/// <param name="ModelVersion">Version of the model that fired.</param>
/// <param name="FeatureConfigHash">MFCC configuration hash the model (and so this device) uses.</param>
public readonly record struct DetectionEvent(
    float Score,
    float RawScore,
    long EndFrameIndex,
    long EndStreamTimeMs,
    string ModelVersion,
    string FeatureConfigHash);
