using EdgeKws.Device.Outbox;

namespace EdgeKws.Device.Tests.Outbox;

/// <summary>A clock the test moves by hand (TTL tests).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

internal static class OutboxTestExtensions
{
    /// <summary>Everything stored, in sequence order (counts one attempt on each, like any peek).</summary>
    public static IReadOnlyList<OutboxMessage> PeekAll(this OutboxStore store)
    {
        var all = store.PeekBatch(OutboxStore.MaxPeekMessages);
        Assert.True(all.Count < OutboxStore.MaxPeekMessages, "the test store holds more than one maximal batch");
        return all;
    }

    public static byte[] Payload(int id, int bytes)
    {
        var p = new byte[bytes];
        for (int i = 0; i < p.Length; i++)
            p[i] = (byte)(id * 31 + i);
        return p;
    }
}
