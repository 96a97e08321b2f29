using SQLite;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// Stores one message in one transaction: the acknowledged rows a full disk held back are deleted first; past the data
/// quota expired rows go, then <see cref="OutboxEviction"/> frees exactly the bytes needed; a page cap or a full disk
/// (SQLITE_FULL) rolls back and retries with an eviction target that starts at the message's size plus two pages and
/// doubles, up to 12 times or until the class has nothing more it may evict. Refusals are results, counted.
/// </summary>
/// <remarks>Not thread-safe: the store's lock serializes every use.</remarks>
internal sealed class OutboxInsert(OutboxStatements sql, OutboxLedger ledger, OutboxDiskGuard disk, OutboxTransactions tx,
    OutboxEviction eviction, OutboxBudget budget)
{
    // An insert that hits the page cap or a full disk is retried with a doubling eviction target; past this many
    // attempts everything this class may evict is gone and the message is refused.
    private const int MaxFullRetries = 12;

    /// <summary>
    /// Inserts the message at <paramref name="sequence"/> with the next sequence and <paramref name="totals"/> in the same
    /// transaction. Accepted: committed and fsynced, and the ledger counts it; the caller advances its own state and then
    /// calls <see cref="OutboxDiskGuard.AfterCommit"/>.
    /// </summary>
    /// <exception cref="SQLiteException">The write failed for another reason than a full disk or quota; counted as failed.</exception>
    public EnqueueResult Insert(OutboxMessageClass messageClass, string topic, ReadOnlySpan<byte> payload, OutboxDeviceTotals? totals,
        long sequence, long nowMs, long expiresMs, int size)
    {
        int slot = (int)messageClass;
        long extraNeeded = 0;
        long lastFreed = -1;
        for (int attempt = 0; ; attempt++)
        {
            ledger.Delta.Clear();
            int evicted;
            tx.Begin();
            try
            {
                tx.DeletePendingInTransaction();
                long logicalNeeded = ledger.TotalBytes - ledger.Delta.RemovedBytesTotal + size - budget.DataQuotaBytes;
                if (logicalNeeded > 0 || extraNeeded > 0)
                {
                    tx.PurgeExpiredInTransaction(nowMs);
                    logicalNeeded = ledger.TotalBytes - ledger.Delta.RemovedBytesTotal + size - budget.DataQuotaBytes;
                    long freed = eviction.EvictInTransaction(messageClass, Math.Max(logicalNeeded, extraNeeded));
                    if (logicalNeeded > 0 && freed < logicalNeeded)
                    {
                        tx.Rollback();
                        ledger.Delta.Clear();
                        tx.RecordRefusal(slot, failed: false);
                        return new EnqueueResult(EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                    }
                    if (extraNeeded > 0 && freed <= lastFreed)
                    {
                        // Everything this class may evict is gone and the pages still do not suffice.
                        tx.Rollback();
                        ledger.Delta.Clear();
                        bool diskFull = disk.DiskFull;
                        tx.RecordRefusal(slot, failed: diskFull);
                        disk.LogFailure(diskFull ? "refused-disk" : "refused-cap",
                            $"outbox: {messageClass} not stored: {(diskFull ? "the disk is full" : "the database is at its page cap")} and nothing it may evict is left.");
                        return new EnqueueResult(diskFull ? EnqueueStatus.RefusedDiskFull : EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                    }
                    lastFreed = freed;
                }

                sql.Insert.Bind(1, sequence).Bind(2, slot).Bind(3, topic).Bind(4, payload)
                    .Bind(5, nowMs).Bind(6, expiresMs).Bind(7, size).Execute();
                // The counter lives in the same transaction as the row: both or neither survive.
                sql.SetNextSeq.Bind(1, sequence + 1).Execute();
                ledger.Delta.WrittenCount[slot]++;
                if (totals is { } t)
                    sql.SetTotals.Bind(1, t.ListeningSeconds).Bind(2, t.Detections).Bind(3, t.AudioOverruns).Bind(4, t.NearMisses).Bind(5, t.NearMissesRateLimited).Execute();
                ledger.FlushCounters(sql.AddCounters);
                evicted = ledger.Delta.EvictedMessagesTotal;
                sql.Commit.Execute();
            }
            catch (SQLiteException ex) when (disk.IsFull(ex) && attempt < MaxFullRetries)
            {
                tx.Rollback();
                ledger.Delta.Clear();
                // Entering disk-full mode released the reserve: try once as is before evicting anything for the disk.
                if (disk.OnFull(ex, "storing a " + messageClass) && extraNeeded == 0)
                    continue;
                // The page cap or the disk: free pages by evicting by class, more each time.
                extraNeeded = extraNeeded == 0 ? size + (2L * budget.PageSizeBytes) : extraNeeded * 2;
                continue;
            }
            catch (SQLiteException ex)
            {
                tx.Rollback();
                ledger.Delta.Clear();
                if (disk.IsFull(ex))
                {
                    bool diskFull = disk.DiskFull;
                    tx.RecordRefusal(slot, failed: diskFull);
                    disk.LogFailure(diskFull ? "refused-disk" : "refused-cap", $"outbox: {messageClass} not stored: still no room after evicting what it may evict.");
                    return new EnqueueResult(diskFull ? EnqueueStatus.RefusedDiskFull : EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                }
                ledger.UnsavedFailed[slot]++;
                disk.LogFailure("error:" + ex.Result, $"outbox: {messageClass} not stored: {ex.Message}");
                throw;
            }
            catch
            {
                tx.Rollback();
                ledger.Delta.Clear();
                ledger.UnsavedFailed[slot]++;
                throw;
            }

            ledger.ApplyCommitted();
            ledger.Count[slot]++;
            ledger.Bytes[slot] += size;
            ledger.TotalBytes += size;
            return new EnqueueResult(EnqueueStatus.Accepted, sequence, size, evicted);
        }
    }
}
