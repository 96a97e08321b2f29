using System.CommandLine;
using EdgeKws.Dataset;
using EdgeKws.TestSupport;

namespace EdgeKws.Labeling.Tests.Dataset;

/// <summary>The edgekws-dataset command line (System.CommandLine): help, the option values scripts pass, usage errors (docs/cli.md).</summary>
public sealed class DatasetCommandLine_Tests
{
    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CommandLineRun.Capture(DatasetCommand.Run, args);

    [Theory]
    [InlineData("", "export", "label-bench")]
    [InlineData("export", "--corpus", "--stream-windows-per-minute", "--train-stream-windows-per-minute", "--keyword-end-margin-ms", "--train-without-engine")]
    [InlineData("extract", "--corpus", "--out", "--keyword")]
    [InlineData("import", "--alignments", "--audio", "--speaker-from", "--format", "--negatives-per-recording", "--test-share", "--seed")]
    [InlineData("align-bench", "--corpus", "--split", "--limit", "--clean", "--parallel", "--refine", "--decoder-args", "--verbose")]
    [InlineData("label-bench", "--model", "--verifier", "--per-kind", "--precision", "--calibration-split", "--test-split", "--wake-phrase")]
    public void Help_of_every_command_exits_0_and_lists_its_options(string command, params string[] expected)
    {
        (int code, string stdout, string stderr) = Run([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);
        Assert.Equal(0, code);
        Assert.Empty(stderr);
        foreach (string name in expected)
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_command_lines_of_the_training_scripts_parse_to_their_values()
    {
        // tools/train/build-default-model.sh and leave-one-engine-out.sh.
        ParseResult parse = DatasetCommand.Create().Parse(["export", "--corpus", "c", "--out", "d", "--keyword", "hey edge", "--keyword", "stop",
            "--stream-windows-per-minute", "10", "--train-stream-windows-per-minute", "60", "--train-without-engine", "flite"]);
        Assert.Empty(parse.Errors);
        Assert.Equal("c", parse.GetValue<string>("--corpus"));
        Assert.Equal(["hey edge", "stop"], parse.GetRequiredValue<string[]>("--keyword"));
        Assert.Equal(10, parse.GetValue<int>("--stream-windows-per-minute"));
        Assert.Equal(60, parse.GetValue<int?>("--train-stream-windows-per-minute"));
        Assert.Null(parse.GetValue<double?>("--keyword-end-margin-ms"));
        Assert.Equal("flite", parse.GetValue<string>("--train-without-engine"));

        // tools/train/build-label-calibration.sh; defaults where the script gives nothing.
        parse = DatasetCommand.Create().Parse(["label-bench", "--corpus", "c", "--model", "m.json", "--verifier", "v.json", "--calibration-split", "train",
            "--per-kind", "120", "--parallel", "2", "--out", "o"]);
        Assert.Empty(parse.Errors);
        Assert.Equal("train", parse.GetValue<string>("--calibration-split"));
        Assert.Equal("test", parse.GetValue<string>("--test-split"));
        Assert.Equal(120, parse.GetValue<int>("--per-kind"));
        Assert.Equal(0.98, parse.GetValue<double>("--precision"));

        // A value that starts with '-' is a value (the decoder's own arguments).
        parse = DatasetCommand.Create().Parse(["align-bench", "--corpus", "c", "--refine", "NONE", "--decoder-args", "-beam 1e-80", "--clean"]);
        Assert.Empty(parse.Errors);
        Assert.Equal("-beam 1e-80", parse.GetValue<string>("--decoder-args"));
        Assert.Equal(EdgeKws.Labeling.Alignment.BoundaryRefinement.None, parse.GetValue<EdgeKws.Labeling.Alignment.BoundaryRefinement>("--refine"));
        Assert.True(parse.GetValue<bool>("--clean"));
    }

    [Theory]
    [InlineData("--stream-windows-per-minute", ">= 0", "export", "--corpus", "c", "--out", "o", "--stream-windows-per-minute", "-1")]
    [InlineData("--train-stream-windows-per-minute", ">= 0", "export", "--corpus", "c", "--out", "o", "--train-stream-windows-per-minute", "-5")]
    [InlineData("--limit", "> 0", "align-bench", "--corpus", "c", "--limit", "0")]
    [InlineData("--parallel", "> 0", "label-bench", "--corpus", "c", "--model", "m", "--parallel", "0")]
    [InlineData("--precision", "in (0.5, 1)", "label-bench", "--corpus", "c", "--model", "m", "--precision", "1")]
    [InlineData("--test-share", "in [0, 0.5)", "import", "--alignments", "a", "--audio", "w", "--keyword", "k", "--out", "o", "--test-share", "0.5")]
    [InlineData("--negatives-per-recording", ">= 0", "import", "--alignments", "a", "--audio", "w", "--keyword", "k", "--out", "o", "--negatives-per-recording", "-1")]
    [InlineData("--format", "textgrid, ctm, csv or json", "import", "--alignments", "a", "--audio", "w", "--keyword", "k", "--out", "o", "--format", "wav")]
    [InlineData("--speaker-from", "dir, tier or map", "import", "--alignments", "a", "--audio", "w", "--keyword", "k", "--out", "o", "--speaker-from", "voice")]
    public void An_out_of_range_value_exits_2_naming_the_option_and_its_range(string option, string range, params string[] args)
    {
        (int code, string stdout, string stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains($"{option} must be {range}", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--per-kind", "label-bench", "--corpus", "c", "--model", "m", "--per-kind", "many")]
    [InlineData("--refine", "align-bench", "--corpus", "c", "--refine", "smooth")]
    [InlineData("--out DIR", "export", "--corpus", "c")]
    [InlineData("--keyword PHRASE", "import", "--alignments", "a", "--audio", "w", "--out", "o")]
    [InlineData("--bogus", "extract", "--corpus", "c", "--out", "o", "--bogus", "1")]
    [InlineData("command", "dedupe")]
    public void Unparsable_values_missing_options_and_unknown_words_exit_2_naming_them(string named, params string[] args)
    {
        (int code, string stdout, string stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
    }
}
