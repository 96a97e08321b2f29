using System.CommandLine;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelTool;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>The edgekws-model command line (System.CommandLine): help, the option values scripts pass, usage errors (docs/cli.md).</summary>
public sealed class ModelCommandLine_Tests
{
    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CommandLineRun.Capture(ModelCommand.Run, args);

    [Theory]
    [InlineData("", "build-int8", "evaluate", "gate", "export-streams")]
    [InlineData("build-int8", "--float", "--from-int8", "--training-manifest", "--dataset", "--out", "--id", "--version", "--parent", "--created", "--method", "--percentile", "--threshold")]
    [InlineData("evaluate", "--model", "--corpus", "--split", "--streams", "--out", "--threshold", "--tolerance-ms")]
    [InlineData("gate", "--current", "--candidate", "--corpus", "--streams", "--out", "--fa-margin", "--frr-margin", "--tolerance-ms")]
    [InlineData("export-streams", "--corpus", "--split", "--out")]
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
        // tools/train/build-default-model.sh
        ParseResult parse = ModelCommand.Create().Parse(["build-int8", "--float", "m.onnx", "--training-manifest", "t.json", "--dataset", "d", "--out", "o",
            "--id", "kws", "--version", "1.3.0", "--parent", "1.2.0", "--created", "2026-01-01T00:00:00Z", "--threshold", "0.62"]);
        Assert.Empty(parse.Errors);
        Assert.Equal(0.62, parse.GetValue<double?>("--threshold"));
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), parse.GetValue<DateTimeOffset?>("--created"));
        Assert.Equal(CalibrationMethod.Percentile, parse.GetValue<CalibrationMethod>("--method"));
        Assert.Equal(99.99, parse.GetValue<double>("--percentile"));

        // The main job's field re-calibration: --id and --version come from the parent.
        parse = ModelCommand.Create().Parse(["build-int8", "--from-int8", "p.int8.manifest.json", "--training-manifest", "t.json", "--dataset", "d", "--out", "o"]);
        Assert.Empty(parse.Errors);
        Assert.Null(parse.GetValue<string>("--id"));

        parse = ModelCommand.Create().Parse(["evaluate", "--model", "m.json", "--corpus", "c", "--split", "validation", "--out", "o"]);
        Assert.Empty(parse.Errors);
        Assert.Equal("validation", parse.GetValue<string>("--split"));
        Assert.Equal(1000, parse.GetValue<double>("--tolerance-ms"));
    }

    [Theory]
    [InlineData("--threshold must be a finite number", "evaluate", "--model", "m", "--out", "o", "--threshold", "NaN")]
    [InlineData("--fa-margin must be a finite number", "gate", "--current", "a", "--candidate", "b", "--fa-margin", "Infinity")]
    [InlineData("--method must be percentile or minmax", "build-int8", "--float", "f", "--training-manifest", "t", "--dataset", "d", "--out", "o", "--id", "i", "--version", "v", "--method", "mean")]
    [InlineData("--created must be an ISO 8601 time", "build-int8", "--float", "f", "--training-manifest", "t", "--dataset", "d", "--out", "o", "--id", "i", "--version", "v", "--created", "yesterday")]
    [InlineData("'--tolerance-ms'", "evaluate", "--model", "m", "--out", "o", "--tolerance-ms", "1s")]
    [InlineData("--version is required", "build-int8", "--float", "f", "--training-manifest", "t", "--dataset", "d", "--out", "o", "--id", "i")]
    [InlineData("--parent does not apply with --from-int8", "build-int8", "--from-int8", "p", "--dataset", "d", "--out", "o", "--parent", "1.0.0")]
    [InlineData("--out FILE is required", "export-streams", "--corpus", "c")]
    [InlineData("'--bogus'", "gate", "--current", "a", "--candidate", "b", "--bogus", "1")]
    public void Out_of_range_unparsable_or_missing_values_exit_2_naming_the_option(string message, params string[] args)
    {
        (int code, string stdout, string stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
    }
}
