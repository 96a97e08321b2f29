using EdgeKws.Shared.Diagnostics;
using EdgeKws.Shared.Resilience;

namespace EdgeKws.Shared.Tests.Resilience;

public class ExponentialBackoff_Tests
{
    private sealed class ScriptedJitter(params double[] values) : IJitterSource
    {
        private int _next;

        public double NextUnit() => values[_next++ % values.Length];
    }

    [Fact]
    public void Doubles_from_one_second_and_caps_at_sixty()
    {
        var b = new ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5);
        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60], Enumerable.Range(0, 9).Select(i => b.Nominal(i).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(60), b.Nominal(int.MaxValue));
    }

    [Fact]
    public void Jitter_only_shortens_each_delay_by_at_most_the_fraction()
    {
        var b = new ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5, new RandomJitterSource());
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
        var b = new ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5, new ScriptedJitter(0, 0.5, 0.999));
        Assert.Equal(TimeSpan.FromSeconds(1), b.Delay(0));
        Assert.Equal(TimeSpan.FromSeconds(1.5), b.Delay(1));
        Assert.Equal(TimeSpan.FromSeconds(4 * (1 - (0.5 * 0.999))), b.Delay(2));
    }

    [Fact]
    public void Without_jitter_gives_the_gateways_former_hand_written_schedules()
    {
        // IngestPipeline paused min(30 s, 500 ms x 2^min(failures, 6)) after a batch that failed entirely.
        var ingest = new ExponentialBackoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), 0);
        for (int failures = 1; failures < 40; failures++)
        {
            Assert.Equal(TimeSpan.FromMilliseconds(Math.Min(30_000, 500 * (1 << Math.Min(failures, 6)))), ingest.Delay(failures));
        }
        // ExternalBrokerSubscriber waited 0.5 s, then doubled up to MaxReconnectDelay (default 30 s).
        var broker = new ExponentialBackoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), 0);
        TimeSpan former = TimeSpan.FromMilliseconds(500);
        for (int attempt = 0; attempt < 40; attempt++)
        {
            Assert.Equal(former, broker.Delay(attempt));
            former = TimeSpan.FromTicks(Math.Min(former.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    [Fact]
    public void Delay_allocates_nothing()
    {
        var b = new ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), 0.5, RandomJitterSource.Instance);
        b.Delay(3);
        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                b.Delay(i % 40);
            }
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Rejects_nonsense_parameters_and_a_broken_jitter_source()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialBackoff(TimeSpan.Zero, TimeSpan.FromSeconds(1), 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialBackoff(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), 1.0));
        var broken = new ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), 0.5, new ScriptedJitter(1.0));
        Assert.Contains("outside [0, 1)", Assert.Throws<InvalidOperationException>(() => broken.Delay(0)).Message, StringComparison.Ordinal);
    }
}
