namespace EdgeKws.Device.Outbox;

/// <summary>Pending changes of one transaction, applied to the in-memory mirror after commit.
/// One instance reused under the lock: no allocation per operation.</summary>
internal sealed class OutboxDelta
{
    public readonly long[] RemovedCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] RemovedBytes = new long[OutboxPolicy.ClassSlots];
    public readonly long[] EvictedCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] EvictedBytes = new long[OutboxPolicy.ClassSlots];
    public readonly long[] ExpiredCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] ExpiredBytes = new long[OutboxPolicy.ClassSlots];
    public readonly long[] RefusedCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] WrittenCount = new long[OutboxPolicy.ClassSlots];

    // Counters held in memory (unsaved) that this transaction persists.
    public readonly long[] SavedRefused = new long[OutboxPolicy.ClassSlots];
    public readonly long[] SavedFailed = new long[OutboxPolicy.ClassSlots];
    public readonly long[] SavedDropped = new long[OutboxPolicy.ClassSlots];
    public bool PendingDeletesCleared;

    public long RemovedBytesTotal
    {
        get
        {
            long sum = 0;
            foreach (long b in RemovedBytes)
                sum += b;
            return sum;
        }
    }

    public int EvictedMessagesTotal
    {
        get
        {
            long sum = 0;
            foreach (long c in EvictedCount)
                sum += c;
            return (int)sum;
        }
    }

    public int ExpiredMessagesTotal
    {
        get
        {
            long sum = 0;
            foreach (long c in ExpiredCount)
                sum += c;
            return (int)sum;
        }
    }

    public void Remove(int slot, long bytes)
    {
        RemovedCount[slot]++;
        RemovedBytes[slot] += bytes;
    }

    public void Evict(int slot, long count, long bytes)
    {
        RemovedCount[slot] += count;
        RemovedBytes[slot] += bytes;
        EvictedCount[slot] += count;
        EvictedBytes[slot] += bytes;
    }

    public void Expire(int slot, long count, long bytes)
    {
        RemovedCount[slot] += count;
        RemovedBytes[slot] += bytes;
        ExpiredCount[slot] += count;
        ExpiredBytes[slot] += bytes;
    }

    public void Clear()
    {
        Array.Clear(RemovedCount);
        Array.Clear(RemovedBytes);
        Array.Clear(EvictedCount);
        Array.Clear(EvictedBytes);
        Array.Clear(ExpiredCount);
        Array.Clear(ExpiredBytes);
        Array.Clear(RefusedCount);
        Array.Clear(WrittenCount);
        Array.Clear(SavedRefused);
        Array.Clear(SavedFailed);
        Array.Clear(SavedDropped);
        PendingDeletesCleared = false;
    }
}
