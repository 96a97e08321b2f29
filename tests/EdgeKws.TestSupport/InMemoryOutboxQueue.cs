using EdgeKws.Device.Uplink;

namespace EdgeKws.TestSupport;

/// <summary>
/// TEST-ONLY outbox: an in-memory <see cref="IOutboxQueue"/> so the uplink and gateway tests do not depend on the
/// SQLite outbox being written in parallel. It is strict: acknowledging an unknown or out-of-order
/// sequence throws, so an uplink bug fails the test instead of being absorbed.
/// </summary>
public sealed class InMemoryOutboxQueue : IOutboxQueue
{
    private readonly Lock _lock = new();
    private readonly List<OutboxItem> _items = [];
    private readonly List<long> _acknowledged = [];
    private readonly List<(long Sequence, string Reason)> _deadLettered = [];
    private long _next;

    public long Enqueue(string topic, byte[] payload, string? configHash, int schemaVersion = 1)
    {
        lock (_lock)
        {
            long sequence = ++_next;
            _items.Add(new OutboxItem(sequence, topic, payload, schemaVersion, configHash));
            return sequence;
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    public long[] Acknowledged
    {
        get
        {
            lock (_lock)
            {
                return [.. _acknowledged];
            }
        }
    }

    public (long Sequence, string Reason)[] DeadLettered
    {
        get
        {
            lock (_lock)
            {
                return [.. _deadLettered];
            }
        }
    }

    public int PeekBatch(int max, List<OutboxItem> into)
    {
        lock (_lock)
        {
            int n = Math.Min(max, _items.Count);
            for (int i = 0; i < n; i++)
            {
                into.Add(_items[i]);
            }
            return n;
        }
    }

    public void Acknowledge(long sequence) => Remove(sequence, reason: null);

    public void DeadLetter(long sequence, string reason) => Remove(sequence, reason);

    private void Remove(long sequence, string? reason)
    {
        lock (_lock)
        {
            if (_items.Count == 0 || _items[0].Sequence != sequence)
            {
                throw new InvalidOperationException(
                    $"uplink removed sequence {sequence} but the head of the outbox is {(_items.Count == 0 ? "empty" : _items[0].Sequence)}");
            }
            _items.RemoveAt(0);
            if (reason is null)
            {
                _acknowledged.Add(sequence);
            }
            else
            {
                _deadLettered.Add((sequence, reason));
            }
        }
    }
}
