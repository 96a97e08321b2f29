using SQLite;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// The sending side of the outbox: hands out the oldest messages (never writing, so a full disk does not stop sending;
/// send attempts are counted in memory) and deletes them when acknowledged, or, when the disk cannot take the delete,
/// remembers them as acknowledged until a later transaction can.
/// </summary>
/// <remarks>Not thread-safe: the store's lock serializes every use. A peek allocates the returned copies.</remarks>
internal sealed class OutboxDelivery(OutboxStatements sql, OutboxLedger ledger, OutboxDiskGuard disk, OutboxTransactions tx)
{
    // Attempts counted in memory: a peek must not need a write (a full disk would stop sending).
    private readonly Dictionary<long, int> _attempts = [];

    /// <summary>Up to <paramref name="maxMessages"/> unexpired messages in sequence order, acknowledged ones skipped, within
    /// <paramref name="maxBytes"/> (the first always); counts one attempt on each.</summary>
    public IReadOnlyList<OutboxMessage> Peek(long nowMs, int maxMessages, long maxBytes)
    {
        var batch = new List<OutboxMessage>(Math.Min(maxMessages, 64));
        long batchBytes = 0;
        try
        {
            // Rows acknowledged but not yet deleted are skipped, so ask for that many more.
            sql.Peek.Bind(1, nowMs).Bind(2, Math.Min((long)maxMessages + ledger.PendingDeletes.Count, int.MaxValue));
            while (batch.Count < maxMessages && sql.Peek.Step())
            {
                long seq = sql.Peek.Int64(0);
                if (ledger.PendingDeletes.ContainsKey(seq))
                    continue;
                int size = (int)sql.Peek.Int64(6);
                if (batch.Count > 0 && batchBytes + size > maxBytes)
                    break;
                batchBytes += size;
                _attempts.TryGetValue(seq, out int attempts);
                _attempts[seq] = ++attempts;
                batch.Add(new OutboxMessage(
                    Sequence: seq,
                    Class: (OutboxMessageClass)sql.Peek.Int64(1),
                    Topic: sql.Peek.Text(2),
                    Payload: sql.Peek.Blob(3).ToArray(),
                    CreatedUtc: DateTimeOffset.FromUnixTimeMilliseconds(sql.Peek.Int64(4)),
                    ExpiresUtc: DateTimeOffset.FromUnixTimeMilliseconds(sql.Peek.Int64(5)),
                    SizeBytes: size,
                    AttemptCount: (int)sql.Peek.Int64(7) + attempts));
            }
        }
        finally
        {
            sql.Peek.Reset();
        }

        if (_attempts.Count > 4 * OutboxStore.MaxPeekMessages)
            _attempts.Clear(); // evicted/expired rows leave entries behind; attempts are diagnostic only
        return batch;
    }

    /// <summary>Deletes acknowledged messages in one transaction; returns how many were stored.</summary>
    public int Acknowledge(ReadOnlySpan<long> sequences)
    {
        foreach (long sequence in sequences)
            _attempts.Remove(sequence);
        for (int attempt = 0; ; attempt++)
        {
            ledger.Delta.Clear();
            int deleted = 0;
            tx.Begin();
            try
            {
                tx.DeletePendingInTransaction();
                foreach (long sequence in sequences)
                {
                    try
                    {
                        sql.DeleteBySeqReturning.Bind(1, sequence);
                        if (sql.DeleteBySeqReturning.Step())
                        {
                            int slot = (int)sql.DeleteBySeqReturning.Int64(0);
                            ledger.Delta.Remove(slot, sql.DeleteBySeqReturning.Int64(1));
                            deleted++;
                        }
                    }
                    finally
                    {
                        sql.DeleteBySeqReturning.Reset();
                    }
                }

                ledger.FlushCounters(sql.AddCounters);
                sql.Commit.Execute();
            }
            catch (SQLiteException ex) when (disk.IsFull(ex))
            {
                tx.Rollback();
                ledger.Delta.Clear();
                disk.OnFull(ex, "deleting acknowledged messages");
                if (attempt == 0)
                    continue; // the reserve is released now: try once more
                return RememberAcknowledged(sequences);
            }
            catch
            {
                tx.Rollback();
                ledger.Delta.Clear();
                throw;
            }

            ledger.ApplyCommitted();
            disk.AfterCommit();
            return deleted;
        }
    }

    private int RememberAcknowledged(ReadOnlySpan<long> sequences)
    {
        int stored = 0;
        foreach (long sequence in sequences)
        {
            if (ledger.PendingDeletes.ContainsKey(sequence))
                continue;
            try
            {
                sql.RowOfSeq.Bind(1, sequence);
                if (sql.RowOfSeq.Step())
                {
                    int slot = (int)sql.RowOfSeq.Int64(0);
                    long bytes = sql.RowOfSeq.Int64(1);
                    ledger.PendingDeletes[sequence] = (slot, bytes);
                    ledger.PendingDeleteCount[slot]++;
                    ledger.PendingDeleteBytes[slot] += bytes;
                    stored++;
                }
            }
            finally
            {
                sql.RowOfSeq.Reset();
            }
        }

        disk.LogFailure("ack", $"outbox: acknowledged messages cannot be deleted (the disk is full); {ledger.PendingDeletes.Count} kept as sent and deleted later.");
        return stored;
    }
}
