using EdgeKws.Corpus.Mixing;

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

    [Fact]
    public void A_preset_after_an_option_replaces_it_and_far_field_keeps_chosen_noise()
    {
        Assert.Equal(8, CorpusCommandLine.Parse(["generate", "--out", "x", "--speakers", "12", "--small"]).SpeakerCount);
        Assert.Equal(["pink"], CorpusCommandLine.Parse(["generate", "--out", "x", "--noise", "pink", "--far-field"]).NoiseKinds);
        Assert.Equal(NoiseKind.FarFieldDefault, CorpusCommandLine.Parse(["generate", "--out", "x", "--far-field"]).NoiseKinds);
    }

    [Fact]
    public void The_training_scripts_command_lines_parse_to_their_values()
    {
        // tools/train/build-default-model.sh --tiny and build-label-calibration.sh: negative values and quoted lists are values.
        CorpusOptions o = CorpusCommandLine.Parse(["generate", "--out", "w", "--seed", "1234", "--voices", "all", "--far-field", "--speakers", "12", "--takes", "2",
            "--near-misses", "hey hedge,edge,knowledge,hey ed", "--held-out-near-misses", "allege,hey edward", "--snr", "20,10,0", "--level", "-40,-3",
            "--stream-snr", "30,20,10", "--stream-level", "-35,-3", "--negatives-minutes", "1", "--train-every-engine"]);
        Assert.Equal(1234, o.Seed);
        Assert.Equal("all", o.VoiceSet);
        Assert.True(o.FarField);
        Assert.True(o.TrainEveryEngine);
        Assert.Equal(["hey hedge", "edge", "knowledge", "hey ed"], o.NearMisses);
        Assert.Equal(["allege", "hey edward"], o.HeldOutNearMisses);
        Assert.Equal((-40.0, -3.0), (o.LevelDbFsMin, o.LevelDbFsMax));
        Assert.Equal([-35.0, -3.0], o.StreamLevelDbFs);
        Assert.Equal([20.0, 10.0, 0.0], o.SnrDbChoices);
    }

    [Theory]
    [InlineData("", "generate")]
    [InlineData("generate", "--out", "--small", "--seed", "--speakers", "--far-field", "--level", "--stream-takes", "--command-share")]
    public void Help_exits_0_and_lists_the_options(string command, params string[] expected)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, CorpusCommandLine.Run([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"], stdout, stderr));
        Assert.Empty(stderr.ToString());
        foreach (string name in expected)
        {
            Assert.Contains(name, stdout.ToString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--speakers", "many", "'--speakers'")]
    [InlineData("--speakers", "2", "--speakers must be at least 3")]
    [InlineData("--keywords", "Hey Edge!", "must be lower-case words")]
    [InlineData("--noise", "rain", "--noise kinds must be among")]
    [InlineData("--parallel", "4", "--parallel must be 1 or 2")]
    [InlineData("--stream-takes", "9", "--stream-takes must be 1 to 8; got 9")]
    [InlineData("--train-max-rt60", "2", "--train-max-rt60 must be 0.2 to 1 s; got 2")]
    [InlineData("--gain", "-3", "--gain takes MIN,MAX; got '-3'")]
    [InlineData("--snr", "10,loud", "--snr needs numbers; got 'loud'")]
    [InlineData("--bogus", "1", "'--bogus'")]
    public void Bad_arguments_exit_2_with_a_message_naming_them(string option, string value, string expected)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(2, CorpusCommandLine.Run(["generate", "--out", "x", option, value], stdout, stderr));
        Assert.Empty(stdout.ToString());
        Assert.Contains(expected, stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => CorpusCommandLine.Parse(["generate", "--out", "x", option, value])).Message, StringComparison.Ordinal);
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
