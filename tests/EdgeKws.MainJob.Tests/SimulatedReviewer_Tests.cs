namespace EdgeKws.MainJob.Tests;

/// <summary>The simulated reviewer judges a clip by the same ground-truth rule the main job scores labels with.</summary>
public sealed class SimulatedReviewer_Tests
{
    private static readonly IReadOnlyList<(double StartMs, double EndMs)> Keywords = [(10_000, 10_600), (40_000, 40_500)];

    [Theory]
    [InlineData(10_000, true)]   // the keyword's start
    [InlineData(10_600, true)]   // its end
    [InlineData(11_600, true)]   // end + the 1 s tolerance (a smoothed score peaks after the phrase)
    [InlineData(11_601, false)]  // past the tolerance
    [InlineData(9_999, false)]   // before the phrase
    [InlineData(40_250, true)]
    [InlineData(25_000, false)]  // between keywords: a near miss on other speech
    public void A_clip_holds_a_keyword_when_its_offset_is_in_the_phrase_or_up_to_the_tolerance_after_it(long offsetMs, bool expected) =>
        Assert.Equal(expected, SimulatedReviewer.HoldsKeyword(Keywords, offsetMs));
}
