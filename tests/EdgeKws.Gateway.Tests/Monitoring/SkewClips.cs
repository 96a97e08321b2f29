using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Gateway.Tests.Monitoring;

/// <summary>A clip as the agent sends it with raw audio upload allowed: generated audio (a chirp over seeded noise) as a
/// <see cref="ClipAudio"/> frame, and its features from a real <see cref="MfccExtractor"/> run (reset, as the agent does) as a
/// <see cref="ClipFeatures"/> frame, both carrying <see cref="MfccConfig.Default"/>'s hash.</summary>
internal static class SkewClips
{
    public static readonly byte[] FrontEndHash = Convert.FromHexString(MfccConfig.Default.FeatureConfigHash);

    public static short[] Audio(int samples = 16_000, int seed = 7)
    {
        var rng = new Random(seed);
        var pcm = new short[samples];
        for (int i = 0; i < pcm.Length; i++)
        {
            double t = i / 16_000.0;
            pcm[i] = (short)((Math.Sin(2 * Math.PI * (300 + (1500 * t)) * t) * 6000) + ((rng.NextDouble() - 0.5) * 800));
        }
        return pcm;
    }

    public static float[] Features(short[] pcm)
    {
        var extractor = new MfccExtractor(MfccConfig.Default);
        var values = new float[extractor.FramesForNextPush(pcm.Length) * extractor.CoefficientCount];
        int frames = extractor.Push(pcm, values);
        Assert.Equal(values.Length, frames * extractor.CoefficientCount);
        return values;
    }

    public static byte[] AudioFrame(Guid clipId, short[] pcm)
    {
        var frame = new byte[ClipAudio.GetFrameSizeBytes(pcm.Length)];
        ClipAudio.Write(frame, clipId, Wire.Time0, 16_000, FrontEndHash, consentGranted: true, pcm);
        return frame;
    }

    public static byte[] FeaturesFrame(Guid clipId, float[] values, byte[]? configHash = null)
    {
        var frame = new byte[ClipFeatures.GetFrameSizeBytes(values.Length / 13, 13)];
        ClipFeatures.Write(frame, clipId, Wire.Time0, 16_000, configHash ?? FrontEndHash, 13, values);
        return frame;
    }
}
