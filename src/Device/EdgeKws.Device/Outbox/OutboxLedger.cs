using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// The outbox's in-memory mirror of the database: depth and bytes per class, the cumulative counters (evicted, expired,
/// refused, written, failed, dropped), counts not yet persisted, and acknowledged rows whose delete is still to be
/// written. Changed only after a successful commit (<see cref="ApplyCommitted"/>), so it always matches the file;
/// <see cref="Delta"/> collects one transaction's changes until then.
/// </summary>
/// <remarks>Not thread-safe: the store's lock serializes every use. No allocation per operation (fixed arrays).</remarks>
internal sealed class OutboxLedger
{
    public readonly long[] Count = new long[OutboxPolicy.ClassSlots];
    public readonly long[] Bytes = new long[OutboxPolicy.ClassSlots];
    public readonly long[] EvictedCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] EvictedBytes = new long[OutboxPolicy.ClassSlots];
    public readonly long[] ExpiredCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] ExpiredBytes = new long[OutboxPolicy.ClassSlots];
    public readonly long[] RefusedCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] WrittenCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] FailedCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] DroppedCount = new long[OutboxPolicy.ClassSlots];

    // Counted but not yet persisted (nothing could be written when they happened); flushed with the next commit.
    public readonly long[] UnsavedRefused = new long[OutboxPolicy.ClassSlots];
    public readonly long[] UnsavedFailed = new long[OutboxPolicy.ClassSlots];
    public readonly long[] UnsavedDropped = new long[OutboxPolicy.ClassSlots];

    // Acknowledged, but the delete could not be written (full disk): never handed out again, deleted with the next commit.
    public readonly SortedDictionary<long, (int Slot, long Bytes)> PendingDeletes = [];
    public readonly long[] PendingDeleteCount = new long[OutboxPolicy.ClassSlots];
    public readonly long[] PendingDeleteBytes = new long[OutboxPolicy.ClassSlots];

    /// <summary>The transaction in progress.</summary>
    public readonly OutboxDelta Delta = new();

    /// <summary>Accounted bytes of every stored message.</summary>
    public long TotalBytes;

    /// <summary>The class slot of a stored class value; a value that is no class is corruption.</summary>
    public static int SlotOf(long storedClass) =>
        OutboxPolicy.IsDefined((OutboxMessageClass)storedClass)
            ? (int)storedClass
            : throw new OutboxCorruptException($"a row has class {storedClass}, which is not an outbox message class");

    /// <summary>Reads depth and counters per class from the file (at open).</summary>
    public void Load(sqlite3 db)
    {
        using (var depth = new SqliteStatement(db, "SELECT class, COUNT(*), SUM(size_bytes) FROM messages GROUP BY class"))
        {
            try
            {
                while (depth.Step())
                {
                    int slot = SlotOf(depth.Int64(0));
                    Count[slot] = depth.Int64(1);
                    Bytes[slot] = depth.Int64(2);
                    TotalBytes += Bytes[slot];
                }
            }
            finally
            {
                depth.Reset();
            }
        }

        using var counters = new SqliteStatement(db, "SELECT class, evicted_count, evicted_bytes, expired_count, expired_bytes, refused_count, written_count, failed_count, dropped_count FROM class_counters");
        try
        {
            while (counters.Step())
            {
                int slot = SlotOf(counters.Int64(0));
                EvictedCount[slot] = counters.Int64(1);
                EvictedBytes[slot] = counters.Int64(2);
                ExpiredCount[slot] = counters.Int64(3);
                ExpiredBytes[slot] = counters.Int64(4);
                RefusedCount[slot] = counters.Int64(5);
                WrittenCount[slot] = counters.Int64(6);
                FailedCount[slot] = counters.Int64(7);
                DroppedCount[slot] = counters.Int64(8);
            }
        }
        finally
        {
            counters.Reset();
        }
    }

    public bool HasUnsavedCounters()
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
            if (UnsavedRefused[s] != 0 || UnsavedFailed[s] != 0 || UnsavedDropped[s] != 0)
                return true;
        return false;
    }

    /// <summary>Inside the caller's transaction: adds this transaction's counts and the unsaved ones to <c>class_counters</c>.</summary>
    public void FlushCounters(SqliteStatement addCounters)
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
        {
            long refused = Delta.RefusedCount[s] + UnsavedRefused[s];
            long failed = UnsavedFailed[s];
            long dropped = UnsavedDropped[s];
            if (Delta.EvictedCount[s] == 0 && Delta.ExpiredCount[s] == 0 && refused == 0 && Delta.WrittenCount[s] == 0 && failed == 0 && dropped == 0)
                continue;
            addCounters.Bind(1, s).Bind(2, Delta.EvictedCount[s]).Bind(3, Delta.EvictedBytes[s])
                .Bind(4, Delta.ExpiredCount[s]).Bind(5, Delta.ExpiredBytes[s]).Bind(6, refused)
                .Bind(7, Delta.WrittenCount[s]).Bind(8, failed).Bind(9, dropped).Execute();
            Delta.SavedRefused[s] = UnsavedRefused[s];
            Delta.SavedFailed[s] = failed;
            Delta.SavedDropped[s] = dropped;
        }
    }

    /// <summary>Applies a committed transaction's changes to the mirror and clears <see cref="Delta"/>.</summary>
    public void ApplyCommitted()
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
        {
            Count[s] -= Delta.RemovedCount[s];
            Bytes[s] -= Delta.RemovedBytes[s];
            TotalBytes -= Delta.RemovedBytes[s];
            EvictedCount[s] += Delta.EvictedCount[s];
            EvictedBytes[s] += Delta.EvictedBytes[s];
            ExpiredCount[s] += Delta.ExpiredCount[s];
            ExpiredBytes[s] += Delta.ExpiredBytes[s];
            RefusedCount[s] += Delta.RefusedCount[s] + Delta.SavedRefused[s];
            WrittenCount[s] += Delta.WrittenCount[s];
            FailedCount[s] += Delta.SavedFailed[s];
            DroppedCount[s] += Delta.SavedDropped[s];
            UnsavedRefused[s] -= Delta.SavedRefused[s];
            UnsavedFailed[s] -= Delta.SavedFailed[s];
            UnsavedDropped[s] -= Delta.SavedDropped[s];
        }

        if (Delta.PendingDeletesCleared)
        {
            PendingDeletes.Clear();
            Array.Clear(PendingDeleteCount);
            Array.Clear(PendingDeleteBytes);
        }

        Delta.Clear();
    }

    /// <summary>Depth (acknowledged rows not counted) and counters per class, unsaved counts included.</summary>
    public OutboxStats Stats(long quotaBytes, long nextSequence, bool diskFull)
    {
        var perClass = new OutboxClassStats[OutboxPolicy.AllClasses.Length];
        long totalCount = 0, totalBytes = 0;
        for (int i = 0; i < perClass.Length; i++)
        {
            var cls = OutboxPolicy.AllClasses[i];
            int s = (int)cls;
            long count = Count[s] - PendingDeleteCount[s];
            long bytes = Bytes[s] - PendingDeleteBytes[s];
            perClass[i] = new OutboxClassStats(cls, count, bytes, EvictedCount[s], EvictedBytes[s],
                ExpiredCount[s], ExpiredBytes[s], RefusedCount[s] + UnsavedRefused[s],
                WrittenCount[s], FailedCount[s] + UnsavedFailed[s], DroppedCount[s] + UnsavedDropped[s]);
            totalCount += count;
            totalBytes += bytes;
        }

        return new OutboxStats(perClass, totalCount, totalBytes, quotaBytes, nextSequence, diskFull, PendingDeletes.Count);
    }
}
