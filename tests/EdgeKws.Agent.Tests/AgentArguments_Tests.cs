namespace EdgeKws.Agent.Tests;

/// <summary>The agent's command line through the real process: help, and the exit code and message of a bad argument.</summary>
public sealed class AgentArguments_Tests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Help_exits_0_and_lists_every_option_and_the_exit_codes()
    {
        using var agent = AgentProcess.Start(["--help"]);
        Assert.True(agent.WaitForExit(Timeout));
        Assert.Equal(0, agent.ExitCode);
        foreach (string option in new[] { "--config", "--wav", "--fast", "--stdin", "--duration", "--model", "--models-dir", "--drain-seconds",
            "--log-enqueues", "--quiet", "--latency-out", "--time-frontend", "--time-frontend-seconds" })
        {
            Assert.Contains(option, agent.Stdout, StringComparison.Ordinal);
        }
        Assert.Contains("Exit codes: 0 done, 1 runtime failure, 2 bad configuration or arguments, 3 model refused", agent.Stdout, StringComparison.Ordinal);
        Assert.Equal("", agent.Stderr);
    }

    [Theory]
    [InlineData("--drain-seconds", "-1")]
    [InlineData("--duration", "1e8")]
    [InlineData("--time-frontend-seconds", "NaN")]
    public void An_out_of_range_number_of_seconds_exits_2_naming_the_option_and_the_range(string option, string value)
    {
        using var agent = AgentProcess.Start(["--config", "agent.json", option, value]);
        Assert.True(agent.WaitForExit(Timeout));
        Assert.Equal(2, agent.ExitCode);
        Assert.Contains($"{option}: '{value}' is not a number of seconds in 0..10000000", agent.Stderr, StringComparison.Ordinal);
        Assert.Equal("", agent.Stdout);
    }

    [Theory]
    [InlineData(new[] { "--wav", "a.wav" }, "Option '--config' is required")]
    [InlineData(new[] { "--config", "agent.json", "--bogus" }, "'--bogus'")]
    [InlineData(new[] { "--config", "agent.json", "--duration", "soon" }, "'soon' for option '--duration'")]
    [InlineData(new[] { "--config", "agent.json", "--wav", "a.wav", "--stdin" }, "--wav and --stdin exclude each other")]
    [InlineData(new[] { "--config", "agent.json", "--model", "m.manifest.json", "--models-dir", "models" }, "--model and --models-dir exclude each other")]
    [InlineData(new[] { "--config", "agent.json", "--time-frontend" }, "--time-frontend needs --latency-out")]
    public void A_usage_error_exits_2_before_reading_the_configuration(string[] args, string expected)
    {
        using var agent = AgentProcess.Start(args);
        Assert.True(agent.WaitForExit(Timeout));
        Assert.Equal(2, agent.ExitCode);
        Assert.Contains(expected, agent.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("configuration error", agent.Stderr, StringComparison.Ordinal);
    }
}
