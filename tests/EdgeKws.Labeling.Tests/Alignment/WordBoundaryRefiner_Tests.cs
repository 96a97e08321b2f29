using EdgeKws.Labeling.Alignment;

namespace EdgeKws.Labeling.Tests.Alignment;

/// <summary>The refiner on synthetic "speech" (noise bursts at exact sample positions), without a decoder.</summary>
public sealed class WordBoundaryRefiner_Tests
{
    // Three words at exact times with digital silence between them; the third has a 40 ms closure inside (a stop).
    private static readonly WordSpan[] Truth = [new("we", 300, 700), new("the", 780, 1000), new("paint", 1100, 1600)];

    private static float[] Render(IEnumerable<(double From, double To)> sounding, double totalMs, double noiseRms = 0, int seed = 1)
    {
        var rng = new Random(seed);
        float[] x = new float[(int)(totalMs * 16)];
        foreach ((double from, double to) in sounding)
        {
            for (int i = (int)(from * 16); i < (int)(to * 16); i++)
            {
                x[i] = (float)((rng.NextDouble() - 0.5) * 0.3);
            }
        }

        for (int i = 0; i < x.Length && noiseRms > 0; i++)
        {
            x[i] += (float)((rng.NextDouble() - 0.5) * noiseRms * Math.Sqrt(12));
        }

        return x;
    }

    private static float[] Clean() => Render([(300, 700), (780, 1000), (1100, 1350), (1390, 1600)], 2000);

    private static readonly double[] Expected = [400, 220, 500];

    [Fact]
    public void Gives_a_swallowed_word_its_interval_back_to_the_sample()
    {
        // The decoder's typical failure: silence over "the", which it squeezes into the next word's audio.
        WordSpan[] decoder = [new("we", 290, 690, 0.9), new("the", 1100, 1200, 0.8), new("paint", 1210, 1600, 0.7)];
        RefinedWords r = new WordBoundaryRefiner().Refine(Clean(), decoder, Expected);
        Assert.True(r.Applied, r.Note);
        Assert.Equal(Truth.Select(w => (w.StartMs, w.EndMs)), r.Words.Select(w => (w.StartMs, w.EndMs)));
        Assert.Equal([0.9, 0.8, 0.7], r.Words.Select(w => w.Confidence!.Value));
        Assert.Equal(4, r.BoundariesAtPauses);
    }

    [Fact]
    public void Keeps_the_decoder_s_boundaries_where_there_is_no_pause_and_in_noise()
    {
        WordSpan[] decoder = [new("we", 310, 690), new("the", 690, 1010), new("paint", 1010, 1590)];

        // Continuous sound (no pause between words): inner boundaries stay; the outer edges find the sound's edges.
        RefinedWords continuous = new WordBoundaryRefiner().Refine(Render([(300, 1600)], 2000), decoder, Expected);
        Assert.Equal([(300.0, 690.0), (690.0, 1010.0), (1010.0, 1600.0)], continuous.Words.Select(w => (w.StartMs, w.EndMs)));

        // Noise 15 dB under the words: the envelope's range is under 25 dB, so the decoder's times are kept as they are.
        RefinedWords noisy = new WordBoundaryRefiner().Refine(Render([(300, 700), (780, 1000), (1100, 1350), (1390, 1600)], 2000, noiseRms: 0.0866 / 5.6), decoder, Expected);
        Assert.False(noisy.Applied);
        Assert.Contains("noisy", noisy.Note, StringComparison.Ordinal);
        Assert.Equal(decoder, noisy.Words);
    }

    [Fact]
    public void Snap_mode_moves_each_boundary_only_within_its_window()
    {
        WordSpan[] decoder = [new("we", 290, 690), new("the", 1100, 1200), new("paint", 1210, 1600)];
        RefinedWords r = new WordBoundaryRefiner().Refine(Clean(), decoder, Expected, BoundaryRefinement.Snap);
        // "we" snaps to its edges; "the" cannot reach its true interval (400 ms away), which is why Pauses is the default.
        Assert.Equal((300.0, 700.0), (r.Words[0].StartMs, r.Words[0].EndMs));
        Assert.Equal(1100.0, r.Words[1].StartMs);
    }

    [Fact]
    public void Expected_duration_sums_phone_means_and_ignores_stress()
    {
        Assert.Equal(WordBoundaryRefiner.ExpectedDurationMs("DH AH"), WordBoundaryRefiner.ExpectedDurationMs("DH AH0"));
        Assert.True(WordBoundaryRefiner.ExpectedDurationMs("P EY N T") > WordBoundaryRefiner.ExpectedDurationMs("DH AH"));
    }
}
