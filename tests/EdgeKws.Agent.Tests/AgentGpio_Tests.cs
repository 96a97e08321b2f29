using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Device.Tests.Uplink;
using Xunit.Abstractions;

namespace EdgeKws.Agent.Tests;

/// <summary>The agent's status LED (Gpio.Driver "auto", the default, which simulates the panel on this machine: it is not a
/// board), observed through the agent's "led:" log lines; the start line names the driver and why.</summary>
public sealed class AgentGpio_Tests(ITestOutputHelper output) : IDisposable
{
    // Liveness only: an agent start (dotnet exec, JIT, model load, broker connect) takes tens of seconds on a loaded CI machine.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Status_led_shows_offline_until_the_broker_is_up_then_listening_and_a_detection_burst()
    {
        int port = UplinkTestKit.FreePort();
        string config = AgentTestKit.WriteConfig(_dir.Path, "dev-led", port, heartbeatSeconds: 600);
        // A burst at 9 s: well after the broker comes up. The WAV is far longer than the test needs (it ends with SIGTERM):
        // a real-time replay that ended before a late test continuation started the broker would end the agent with it.
        string wav = ListeningTestKit.WriteWav(_dir.File("late-burst.wav"), ListeningTestKit.Synthesize(180, [9.0]));

        using var agent = AgentProcess.Start(["--config", config, "--wav", wav, "--model", AgentTestKit.Model, "--drain-seconds", "0"]);
        Assert.True(agent.WaitForStderr("led: offline", Timeout), "no broker: the LED should show offline\n" + agent.Stderr);
        Assert.DoesNotContain("led: detected", agent.Stderr);
        // The start line says which GPIO driver runs and why: never a silently simulated mute button.
        Assert.Matches(@"listening: .*gpio driver (simulated|gpiochip) \(auto: ", agent.Stderr);
        if (!Directory.EnumerateFileSystemEntries("/dev", "gpiochip*").Any() && !File.Exists("/proc/device-tree/model"))
        {
            Assert.Contains("gpio driver simulated (auto: no /dev/gpiochip* and no device tree, not a board; LED pin 17, mute button pin 23: " +
                "the LED and the mute button are simulated, a real button does nothing)", agent.Stderr);
        }

        await using (var broker = await EmbeddedBroker.StartAsync(port))
        {
            int offlineAt = agent.Stderr.IndexOf("led: offline", StringComparison.Ordinal);
            await UplinkTestKit.WaitUntilAsync(() => agent.Stderr.IndexOf("led: listening", offlineAt, StringComparison.Ordinal) > offlineAt,
                Timeout, () => "LED back to listening once the broker is up\n" + agent.Stderr);
            Assert.True(agent.WaitForLines(1, Timeout), "the burst at 9 s was not detected: " + agent.Stderr);
            await UplinkTestKit.WaitUntilAsync(() => agent.Stderr.IndexOf("led: detected", StringComparison.Ordinal) > offlineAt,
                Timeout, () => "LED detection burst\n" + agent.Stderr);
            int detectedAt = agent.Stderr.IndexOf("led: detected", StringComparison.Ordinal);
            // The burst is a one-shot: the LED returns to listening.
            await UplinkTestKit.WaitUntilAsync(() => agent.Stderr.IndexOf("led: listening", detectedAt, StringComparison.Ordinal) > detectedAt,
                Timeout, () => "LED back to listening after the detection burst\n" + agent.Stderr);

            agent.Signal("TERM");
            Assert.True(agent.WaitForExit(Timeout), "agent did not stop");
        }
        output.WriteLine(agent.Stderr);
        Assert.Equal(0, agent.ExitCode);
        Assert.Contains("detection:", agent.Stdout);
    }
}
