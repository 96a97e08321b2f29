using EdgeKws.Detection;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;

namespace EdgeKws.Labeling.Verification;

/// <summary>
/// Scores a clip with a device model as the device would: the device's MFCC front end and <see cref="KeywordDetector"/>
/// (smoothing included) over the clip with half a second of silence on each side, so the window slides fully over a
/// keyword that fills the clip; the score is the highest smoothed posterior. Not thread-safe: one scorer per thread.
/// </summary>
public sealed class ClipScorer : IDisposable
{
    private const int PadSamples = 8_000;
    private readonly MfccExtractor _extractor;
    private readonly KeywordDetector _detector;
    private readonly float[] _samples = new float[16_000];
    private readonly float[] _features;

    /// <summary>Size limit of a gateway verifier model: there is no device budget at the gateway, only a sanity bound.</summary>
    public const long VerifierMaxModelBytes = 32L << 20;

    /// <summary>Loads the model (its manifest's checks included).</summary>
    /// <param name="manifestPath">The model's manifest.</param>
    /// <param name="maxModelBytes">Size limit: the device budget for device models, <see cref="VerifierMaxModelBytes"/> for a verifier.</param>
    /// <param name="featureConfig">The front end (the device's by default).</param>
    /// <exception cref="InvalidDataException">The model cannot be loaded or run; the message says why.</exception>
    public ClipScorer(string manifestPath, long maxModelBytes = KeywordModel.DefaultMaxModelBytes, MfccConfig? featureConfig = null)
    {
        MfccConfig config = featureConfig ?? MfccConfig.Default;
        if (!KeywordModel.TryLoad(manifestPath, config.FeatureConfigHash, maxModelBytes, out KeywordModel? model, out string reason))
        {
            throw new InvalidDataException($"cannot load {manifestPath}: {reason}");
        }
        if (!KeywordDetector.TryCreate(model!, new KeywordDetectorOptions(), out KeywordDetector? detector, out reason))
        {
            throw new InvalidDataException($"cannot build the detector for {manifestPath}: {reason}");
        }
        _detector = detector!;
        _extractor = new MfccExtractor(config);
        ModelVersion = _detector.ModelVersion;
        Threshold = _detector.Threshold;
        _features = new float[((_samples.Length / _extractor.HopSamples) + 2) * _extractor.CoefficientCount];
    }

    /// <summary>The model's version.</summary>
    public string ModelVersion { get; }

    /// <summary>The detector's threshold (the manifest's): a device with this model uploads a trigger clip when its smoothed
    /// score reaches it.</summary>
    public float Threshold { get; }

    /// <summary>The highest smoothed keyword score over the clip (0 when the clip is too short for one inference).</summary>
    public double Score(string wavPath)
    {
        _extractor.Reset();
        _detector.Reset();
        float best = 0;
        Array.Clear(_samples);
        Push(_samples.AsSpan(0, PadSamples), ref best);
        using (var source = new AudioFileSource(wavPath))
        {
            int n;
            while ((n = source.Read(_samples)) > 0)
            {
                Push(_samples.AsSpan(0, n), ref best);
            }
        }
        Array.Clear(_samples);
        Push(_samples.AsSpan(0, PadSamples), ref best);
        return best;
    }

    private void Push(ReadOnlySpan<float> samples, ref float best)
    {
        int c = _extractor.CoefficientCount;
        int got = _extractor.Push(samples, _features);
        for (int f = 0; f < got; f++)
        {
            long before = _detector.InferenceCount;
            _detector.TryPushFrame(_features.AsSpan(f * c, c), out _);
            if (_detector.InferenceCount != before && _detector.LastSmoothedScore > best)
            {
                best = _detector.LastSmoothedScore;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _detector.Dispose();
}
