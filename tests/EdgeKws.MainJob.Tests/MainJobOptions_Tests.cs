namespace EdgeKws.MainJob.Tests;

/// <summary>The main job's command line (System.CommandLine, docs/cli.md): real command lines to options, help, usage errors (exit 2).</summary>
public sealed class MainJobOptions_Tests
{
    /// <summary>The options a command line gives the job (null when it did not run), the exit code and stderr.</summary>
    private static (MainJobOptions? Options, int Exit, string Stdout, string Stderr) Parse(params string[] args)
    {
        MainJobOptions? parsed = null;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = MainJobOptions.Run(args, stdout, stderr, o =>
        {
            parsed = o;
            return 0;
        });
        return (parsed, exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Defaults_are_three_devices_of_three_minutes_for_two_days_under_artifacts()
    {
        (MainJobOptions? o, int exit, _, string error) = Parse();
        Assert.Equal(0, exit);
        Assert.Empty(error);
        Assert.Equal(3, o!.Devices);
        Assert.Equal(0.05, o.HoursPerDevice);
        Assert.Equal(2, o.Days);
        Assert.Equal(Path.Combine("artifacts", "main-job"), o.OutputDirectory);
        Assert.False(o.KeepRunning);
        Assert.Equal(ModelStageKind.Recalibrate, o.ModelStage);
        Assert.False(o.SimulatedReview);
    }

    [Fact]
    public void Simulated_review_is_an_explicit_choice()
    {
        (MainJobOptions? o, _, _, string error) = Parse("--model-stage", "finetune", "--simulated-review");
        Assert.Empty(error);
        Assert.True(o!.SimulatedReview);
        Assert.Contains("--simulated-review", Parse("--help").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_stage_train_keeps_the_trained_candidate_path()
    {
        MainJobOptions? o = Parse("--model-stage", "train", "--quick-model").Options;
        Assert.Equal(ModelStageKind.Train, o!.ModelStage);
        Assert.True(o.QuickModel);
    }

    [Fact]
    public void Model_stage_finetune_selects_the_fine_tune_job()
    {
        (MainJobOptions? o, _, _, string error) = Parse("--model-stage", "finetune");
        Assert.Empty(error);
        Assert.Equal(ModelStageKind.FineTune, o!.ModelStage);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("3", 3)]
    public void Days_sets_how_many_days_the_devices_listen(string value, int days)
    {
        (MainJobOptions? o, _, _, string error) = Parse("--days", value);
        Assert.Empty(error);
        Assert.Equal(days, o!.Days);
    }

    [Theory]
    [InlineData(1, 7)]
    [InlineData(2, 12)]
    [InlineData(3, 17)]
    public void A_run_has_day_ones_six_stages_four_per_later_day_a_push_between_later_days_the_loop_and_the_summary(int days, int stages)
    {
        Assert.Equal(stages, MainJob.StageCount(days));
    }

    [Fact]
    public void Parses_devices_hours_out_and_keep_running()
    {
        // scripts/main-job.sh passes its arguments through unchanged.
        MainJobOptions? o = Parse("--devices", "5", "--hours", "0.5", "--out", "/tmp/x", "--keep-running", "--http-port", "0", "--seed", "7").Options;
        Assert.Equal(5, o!.Devices);
        Assert.Equal(0.5, o.HoursPerDevice);
        Assert.Equal("/tmp/x", o.OutputDirectory);
        Assert.True(o.KeepRunning);
        Assert.Equal(0, o.HttpPort);
        Assert.Equal(7, o.Seed);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void Help_exits_0_without_running_and_lists_every_option(string help)
    {
        (MainJobOptions? o, int exit, string stdout, string stderr) = Parse(help);
        Assert.Equal(0, exit);
        Assert.Null(o);
        Assert.Empty(stderr);
        foreach (string name in new[] { "--devices", "--hours", "--days", "--out", "--keep-running", "--http-port", "--seed", "--model-stage", "--quick-model", "finetune" })
        {
            Assert.Contains(name, stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--devices", "0", "--devices: '0' must be a whole number from 1 to 16")]
    [InlineData("--hours", "lots", "--hours: 'lots' must be a number of hours per device from 0.001 to 24")]
    [InlineData("--http-port", "70000", "--http-port: '70000' must be a port from 0 to 65535 (0: any free port)")]
    [InlineData("--frobnicate", "1", "unknown option '--frobnicate'")]
    [InlineData("--out", " ", "--out needs a directory")]
    [InlineData("--model-stage", "guess", "--model-stage: 'guess' must be recalibrate, train or finetune")]
    [InlineData("--days", "0", "--days: '0' must be a whole number from 1 to 7")]
    [InlineData("--days", "two", "--days: 'two' must be a whole number from 1 to 7")]
    public void Refuses_bad_values_naming_the_option_with_exit_2(string option, string value, string expected)
    {
        (MainJobOptions? o, int exit, string stdout, string stderr) = Parse(option, value);
        Assert.Null(o);
        Assert.Equal(2, exit);
        Assert.Empty(stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_every_field_of_the_agents_summary_line()
    {
        var f = MainJob.ParseSummary("summary: source=wav:a.wav audio_s=40.53 detections=6 outbox_depth=0 sent=24 end=source-ended");
        Assert.Equal("wav:a.wav", f["source"]);
        Assert.Equal("0", f["outbox_depth"]);
        Assert.Equal("24", f["sent"]);
        Assert.Equal(6, f.Count);
    }
}
