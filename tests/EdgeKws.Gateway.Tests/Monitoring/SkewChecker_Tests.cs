using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Tests.Monitoring;

public sealed class SkewChecker_Tests
{
    private static readonly DateTimeOffset Now = Wire.Time0;

    private static ClipPair Pair(float[] features, byte[]? hash = null, short[]? pcm = null)
    {
        var id = Guid.NewGuid();
        pcm ??= SkewClips.Audio();
        return new ClipPair("dev-a", id.ToString("D"), SkewClips.AudioFrame(id, pcm), SkewClips.FeaturesFrame(id, features, hash));
    }

    [Fact]
    public void Gives_zero_skew_when_the_device_ran_the_same_front_end_on_the_same_audio()
    {
        short[] pcm = SkewClips.Audio();
        SkewResult r = SkewChecker.Compare(Pair(SkewClips.Features(pcm), pcm: pcm), Now);

        Assert.Equal(SkewStatus.Compared, r.Status);
        Assert.Equal(98, r.Frames); // 1 s at 25 ms / 10 ms, snip_edges
        Assert.Equal(0.0, r.MaxAbsDifference);
        Assert.Equal(0.0, r.MaxRelativeDifference);
        Assert.Contains("bit-identical", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reports_the_difference_and_the_frame_when_one_device_frame_is_perturbed()
    {
        short[] pcm = SkewClips.Audio();
        float[] features = SkewClips.Features(pcm);
        float scale = 0;
        for (int c = 0; c < 13; c++)
        {
            scale = Math.Max(scale, Math.Abs(features[(40 * 13) + c]));
        }
        features[(40 * 13) + 3] += scale * 0.01f; // 1 % of the frame's largest coefficient

        SkewResult r = SkewChecker.Compare(Pair(features, pcm: pcm), Now);

        Assert.Equal(SkewStatus.Compared, r.Status);
        Assert.Equal(40, r.WorstFrame);
        Assert.InRange(r.MaxRelativeDifference, 0.0099, 0.0101);
        Assert.InRange(r.MaxAbsDifference, scale * 0.0099, scale * 0.0101);
        Assert.Contains("(frame 40)", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reports_an_unknown_front_end_when_the_config_hash_is_not_the_gateways()
    {
        short[] pcm = SkewClips.Audio();
        SkewResult r = SkewChecker.Compare(Pair(SkewClips.Features(pcm), Convert.FromHexString(Wire.ConfigHash), pcm), Now);

        Assert.Equal(SkewStatus.UnknownFrontEnd, r.Status);
        Assert.StartsWith("unknown front end: the device's features have config hash " + Wire.ConfigHash, r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_to_compare_when_the_device_sent_another_number_of_frames()
    {
        short[] pcm = SkewClips.Audio();
        float[] features = SkewClips.Features(pcm)[..(90 * 13)];
        SkewResult r = SkewChecker.Compare(Pair(features, pcm: pcm), Now);

        Assert.Equal(SkewStatus.Incomparable, r.Status);
        Assert.Equal("device sent 90 feature frames, the clip's 16000 samples give 98", r.Message);
    }
}
