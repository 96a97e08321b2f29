using EdgeKws.Labeling.Extraction;

namespace EdgeKws.Labeling.Tests.Extraction;

public sealed class KeywordClipExtractor_Tests
{
    private static readonly LabelSource Import = new(LabelKinds.Import, "test");

    // 3 s of deterministic noise at about -60 dBFS with a 400 ms, -20 dBFS tone burst at 1.0-1.4 s.
    private static float[] Recording(float burstAmplitude = 0.1f, double burstStartMs = 1000, double burstMs = 400)
    {
        float[] a = new float[48_000];
        uint state = 12345;
        for (int i = 0; i < a.Length; i++)
        {
            state = (state * 1664525) + 1013904223;
            a[i] = ((state >> 8) / (float)(1 << 24) - 0.5f) * 0.002f;
        }

        int s = (int)(burstStartMs * 16), e = s + (int)(burstMs * 16);
        for (int i = Math.Max(0, s); i < Math.Min(a.Length, e); i++)
        {
            a[i] += burstAmplitude * MathF.Sin(2 * MathF.PI * 440 * i / 16_000f);
        }

        return a;
    }

    [Fact]
    public void Cuts_one_second_centred_on_the_word_midpoint_with_faded_edges()
    {
        float[] audio = Recording();
        var x = new KeywordClipExtractor();
        ExtractedClip c = x.Extract(audio, "rec", new WordSpan("edge", 1000, 1400), Import);
        Assert.Equal(16_000, c.Samples.Length);
        Assert.Equal(700, c.ClipStartMs);
        // The burst (1000-1400 ms) sits at 300-700 ms of the clip.
        Assert.Equal(audio[(1000 * 16) + 100], c.Samples[(300 * 16) + 100]);
        Assert.Equal(ClipOutcome.Accepted, c.Outcome);
        Assert.Null(c.Reason);
        // 10 ms raised-cosine fades: the first sample is nearly silenced, 10 ms in is untouched.
        Assert.True(Math.Abs(c.Samples[0]) <= Math.Abs(audio[700 * 16]) * 0.01f + 1e-9f);
        Assert.Equal(audio[(700 * 16) + 160], c.Samples[160]);
    }

    [Fact]
    public void Pads_with_zeros_where_the_recording_ends()
    {
        float[] audio = Recording(burstStartMs: 50, burstMs: 300);
        ExtractedClip c = new KeywordClipExtractor().Extract(audio, "rec", new WordSpan("stop", 50, 350), Import);
        Assert.Equal(-300, c.ClipStartMs);
        Assert.All(c.Samples[..(300 * 16)], s => Assert.Equal(0f, s));
        Assert.Equal(16_000, c.Samples.Length);
    }

    [Fact]
    public void Rejects_with_a_reason_for_duration_clipping_snr_and_confidence()
    {
        var x = new KeywordClipExtractor();
        Assert.Contains("under the 150 ms", x.Extract(Recording(), "r", new WordSpan("a", 1000, 1080), Import).Reason);
        Assert.Contains("over the 1000 ms", x.Extract(Recording(), "r", new WordSpan("a", 900, 2000), Import).Reason);
        ExtractedClip clipped = x.Extract(Recording(burstAmplitude: 3f), "r", new WordSpan("a", 1000, 1400), Import);
        Assert.Equal(ClipOutcome.Rejected, clipped.Outcome);
        Assert.StartsWith("clipping", clipped.Reason);
        ExtractedClip quiet = x.Extract(Recording(burstAmplitude: 0.0005f), "r", new WordSpan("a", 1000, 1400), Import);
        Assert.Equal(ClipOutcome.Rejected, quiet.Outcome);
        Assert.Contains("SNR", quiet.Reason);
        ExtractedClip low = x.Extract(Recording(), "r", new WordSpan("a", 1000, 1400, 0.1), Import);
        Assert.Contains("confidence 0.10 under 0.30", low.Reason);
        ExtractedClip mid = x.Extract(Recording(), "r", new WordSpan("a", 1000, 1400, 0.45), Import);
        Assert.Equal(ClipOutcome.Review, mid.Outcome);
    }
}
