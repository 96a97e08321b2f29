using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Resilience;

namespace EdgeKws.Device.Tests.Uplink;

internal sealed class ScriptedJitter(params double[] values) : IJitterSource
{
    private int _next;

    public double NextUnit() => values[_next++ % values.Length];
}

// The schedule itself is tested in EdgeKws.Shared.Tests (Resilience/ExponentialBackoff_Tests); here, the uplink follows it.
public class MqttUplink_Backoff_Tests
{
    [Fact]
    public async Task Waits_1_2_4_seconds_and_so_on_capped_at_60_with_jitter_between_reconnect_attempts()
    {
        int closedPort = UplinkTestKit.FreePort(); // nothing listens: every attempt is refused at once
        double[] jitter = [0.0, 0.25, 0.5, 0.75, 0.999, 0.1, 0.9, 0.3, 0.6, 0.0];
        var delays = new List<TimeSpan>();
        var enough = new TaskCompletionSource();
        Task RecordingDelay(TimeSpan d, CancellationToken ct)
        {
            lock (delays)
            {
                delays.Add(d);
                if (delays.Count == jitter.Length)
                {
                    enough.TrySetResult();
                }
                return delays.Count < jitter.Length ? Task.CompletedTask : Task.Delay(System.Threading.Timeout.Infinite, ct);
            }
        }
        var options = new MqttUplinkOptions { DeviceId = UplinkTestKit.DeviceId, Port = closedPort };
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(EdgeKws.Shared.Contracts.Topics.Uplink(UplinkTestKit.DeviceId, EdgeKws.Shared.Contracts.MessageKind.Heartbeat), [1], null);
        await using var uplink = new MqttUplink(options, outbox, new ScriptedJitter(jitter), RecordingDelay);
        uplink.Start();
        await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(UplinkState.WaitingToReconnect, uplink.State);
        await uplink.StopAsync();

        double[] nominal = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60];
        Assert.Equal(nominal.Select((s, i) => TimeSpan.FromTicks((long)(TimeSpan.FromSeconds(s).Ticks * (1 - (0.5 * jitter[i]))))), delays);
        Assert.Equal(jitter.Length, uplink.Stats.ConnectAttempts);
        Assert.Equal(0, uplink.Stats.Connects);
        Assert.Contains($"connect to 127.0.0.1:{closedPort} failed", uplink.LastError, StringComparison.Ordinal);
        Assert.Contains("refused", uplink.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, outbox.Count);
        Assert.Empty(outbox.Acknowledged);
    }
}
