namespace EdgeKws.Corpus.Tests;

public sealed class CorpusCommandLine_Tests
{
    [Fact]
    public void Small_preset_then_overrides_apply_in_order()
    {
        CorpusOptions o = CorpusCommandLine.Parse(["generate", "--out", "x", "--seed", "9", "--small", "--speakers", "12", "--keywords", "hey edge, go", "--snr", "10,0"]);
        Assert.Equal("x", o.OutputDirectory);
        Assert.Equal(9, o.Seed);
        Assert.Equal(12, o.SpeakerCount);
        Assert.Equal(CorpusOptions.Small("x").NegativeStreamMinutes, o.NegativeStreamMinutes);
        Assert.Equal(["hey edge", "go"], o.Keywords);
        Assert.Equal([10.0, 0.0], o.SnrDbChoices);
    }

    [Theory]
    [InlineData("--speakers", "many", "--speakers needs an integer")]
    [InlineData("--keywords", "Hey Edge!", "must be lower-case words")]
    [InlineData("--noise", "rain", "--noise kinds must be among")]
    [InlineData("--parallel", "4", "--parallel must be 1 or 2")]
    [InlineData("--stream-takes", "9", "--stream-takes must be 1 to 8; got 9")]
    [InlineData("--bogus", "1", "Unknown option '--bogus'")]
    public void Bad_arguments_are_refused_with_a_message_naming_them(string option, string value, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => CorpusCommandLine.Parse(["generate", "--out", "x", option, value]));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stream_seed_and_takes_change_only_the_streams_content()
    {
        CorpusOptions o = CorpusCommandLine.Parse(["generate", "--out", "x", "--seed", "9", "--stream-seed", "1234", "--stream-takes", "3"]);
        Assert.Equal(9, o.Seed);
        Assert.Equal(1234, o.StreamSeed);
        Assert.Equal(3, o.StreamKeywordTakes);
        Assert.Null(CorpusCommandLine.Parse(["generate", "--out", "x"]).StreamSeed);
    }

    [Fact]
    public void Missing_out_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => CorpusCommandLine.Parse(["generate", "--small"]));
        Assert.Contains("--out", e.Message, StringComparison.Ordinal);
    }
}
