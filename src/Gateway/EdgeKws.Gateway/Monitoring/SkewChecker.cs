using System.Globalization;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// Training-serving skew for one clip: recomputes the features from the clip's raw audio with the same front end the devices
/// and the training pipeline use (<see cref="MfccExtractor"/> with <see cref="MfccConfig.Default"/>, from a reset state, as the
/// agent does for its feature clips) and compares them with the features the device sent. The same code on the same samples
/// gives bit-identical floats, so any difference means the device runs another front end (build, flags, CPU path) than training.
/// Not a hot-path type: a check allocates its sample and feature buffers.
/// </summary>
public static class SkewChecker
{
    /// <summary>Compares the two frames of <paramref name="pair"/>; never throws on bad frames (they give <see cref="SkewStatus.Incomparable"/>).</summary>
    public static SkewResult Compare(ClipPair pair, DateTimeOffset nowUtc) => Compare(pair, MfccConfig.Default, nowUtc);

    /// <summary>As <see cref="Compare(ClipPair, DateTimeOffset)"/> with the front end the gateway knows given explicitly.</summary>
    public static SkewResult Compare(ClipPair pair, MfccConfig knownFrontEnd, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(knownFrontEnd);
        SkewResult Fail(SkewStatus status, string message) => new(pair.DeviceId, pair.ClipId, nowUtc, status, 0, 0, 0, -1, message);

        if (!ClipAudio.TryReadHeader(pair.AudioFrame, out ClipHeader audio, out string why))
        {
            return Fail(SkewStatus.Incomparable, "audio clip unreadable: " + why);
        }
        if (!ClipFeatures.TryReadHeader(pair.FeaturesFrame, out ClipHeader features, out why))
        {
            return Fail(SkewStatus.Incomparable, "feature clip unreadable: " + why);
        }
        string hash = features.ConfigHash.ToString();
        if (!string.Equals(hash, knownFrontEnd.FeatureConfigHash, StringComparison.OrdinalIgnoreCase))
        {
            return Fail(SkewStatus.UnknownFrontEnd,
                $"unknown front end: the device's features have config hash {hash}, the gateway recomputes with {knownFrontEnd.FeatureConfigHash}");
        }
        if (audio.SampleRateHz != knownFrontEnd.SampleRateHz)
        {
            return Fail(SkewStatus.Incomparable, $"audio clip is {audio.SampleRateHz} Hz, the front end takes {knownFrontEnd.SampleRateHz} Hz");
        }
        var extractor = new MfccExtractor(knownFrontEnd);
        int coefficients = extractor.CoefficientCount;
        if (features.ValuesPerFrame != coefficients)
        {
            return Fail(SkewStatus.Incomparable, $"device features have {features.ValuesPerFrame} coefficients per frame, the front end gives {coefficients}");
        }
        var samples = new short[audio.FrameCount];
        ClipAudio.ReadSamples(pair.AudioFrame, audio, samples);
        var gateway = new float[Math.Max(1, extractor.FramesForNextPush(samples.Length)) * coefficients];
        int frames = extractor.Push(samples, gateway);
        if (frames != features.FrameCount)
        {
            return Fail(SkewStatus.Incomparable, $"device sent {features.FrameCount} feature frames, the clip's {samples.Length} samples give {frames}");
        }
        var device = new float[frames * coefficients];
        if (!ClipFeatures.TryReadFeatures(pair.FeaturesFrame, features, device, out why))
        {
            return Fail(SkewStatus.Incomparable, "feature clip unreadable: " + why);
        }

        double maxAbs = 0, maxRel = 0;
        int worst = -1;
        for (int f = 0; f < frames; f++)
        {
            double frameDiff = 0, frameScale = 0;
            for (int c = 0; c < coefficients; c++)
            {
                int i = (f * coefficients) + c;
                frameDiff = Math.Max(frameDiff, Math.Abs((double)device[i] - gateway[i]));
                frameScale = Math.Max(frameScale, Math.Abs((double)gateway[i]));
            }
            double rel = frameDiff == 0 ? 0 : frameDiff / Math.Max(frameScale, 1e-12);
            maxAbs = Math.Max(maxAbs, frameDiff);
            if (worst < 0 || rel > maxRel)
            {
                maxRel = rel;
                worst = f;
            }
        }
        string message = maxAbs == 0
            ? $"{frames} frames bit-identical to the gateway's recomputation"
            : string.Create(CultureInfo.InvariantCulture,
                $"{frames} frames: max |difference| {maxAbs:G4}, max relative difference {maxRel:G4} (frame {worst})");
        return new SkewResult(pair.DeviceId, pair.ClipId, nowUtc, SkewStatus.Compared, frames, maxAbs, maxRel, worst, message);
    }
}
