using EdgeKws.Device.Uplink;

namespace EdgeKws.Device.Tests.Uplink;

internal sealed class ScriptedJitter(params double[] values) : IJitterSource
{
    private int _next;

    public double NextUnit() => values[_next++ % values.Length];
}

public class ReconnectBackoff_Tests
{
    [Fact]
    public void Doubles_from_one_second_and_caps_at_sixty()
    {
        var b = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5);
        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60], Enumerable.Range(0, 9).Select(i => b.Nominal(i).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(60), b.Nominal(int.MaxValue));
    }

    [Fact]
    public void Jitter_only_shortens_each_delay_by_at_most_the_fraction()
    {
        var b = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5, new RandomJitterSource());
        for (int attempt = 0; attempt < 12; attempt++)
        {
            for (int k = 0; k < 200; k++)
            {
                TimeSpan d = b.Delay(attempt);
                Assert.InRange(d.TotalSeconds, b.Nominal(attempt).TotalSeconds * 0.5, b.Nominal(attempt).TotalSeconds);
            }
        }
    }

    [Fact]
    public void Maps_the_jitter_source_onto_the_delay_exactly()
    {
        var b = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5, new ScriptedJitter(0, 0.5, 0.999));
        Assert.Equal(TimeSpan.FromSeconds(1), b.Delay(0));
        Assert.Equal(TimeSpan.FromSeconds(1.5), b.Delay(1));
        Assert.Equal(TimeSpan.FromSeconds(4 * (1 - (0.5 * 0.999))), b.Delay(2));
    }

    [Fact]
    public void Rejects_nonsense_parameters_and_a_broken_jitter_source()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReconnectBackoff(TimeSpan.Zero, TimeSpan.FromSeconds(1), 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReconnectBackoff(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), 1.0));
        var broken = new ReconnectBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), 0.5, new ScriptedJitter(1.0));
        Assert.Contains("outside [0, 1)", Assert.Throws<InvalidOperationException>(() => broken.Delay(0)).Message, StringComparison.Ordinal);
    }
}

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
