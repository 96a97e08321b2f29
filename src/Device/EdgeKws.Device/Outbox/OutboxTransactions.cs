using SQLite;
using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// The outbox's transaction primitives and its small transactions: writing the deletes of acknowledged rows that a
/// full disk held back, dropping expired rows, persisting counts held in memory, and counting refusals. Each one either
/// commits and applies its delta to the ledger, or rolls back and leaves the ledger as it was; a full disk never makes
/// them throw (they try again with a later transaction).
/// </summary>
/// <remarks>Not thread-safe: the store's lock serializes every use.</remarks>
internal sealed class OutboxTransactions(sqlite3 db, OutboxStatements sql, OutboxLedger ledger, OutboxDiskGuard disk)
{
    public void Begin() => sql.Begin.Execute();

    /// <summary>Rolls back the open transaction, if SQLite has not already.</summary>
    public void Rollback()
    {
        if (raw.sqlite3_get_autocommit(db) == 0)
        {
            try
            {
                sql.Rollback.Execute();
            }
            catch (SQLiteException)
            {
                // SQLite already rolled back (it may after SQLITE_FULL); the original error is what matters.
            }
        }
    }

    /// <summary>Deletes the acknowledged rows whose delete failed earlier, inside the caller's transaction.</summary>
    public void DeletePendingInTransaction()
    {
        foreach ((long sequence, (int slot, long bytes)) in ledger.PendingDeletes)
        {
            sql.DeleteBySeq.Bind(1, sequence).Execute();
            ledger.Delta.Remove(slot, bytes);
        }
        ledger.Delta.PendingDeletesCleared = ledger.PendingDeletes.Count > 0;
    }

    /// <summary>One transaction that writes the pending deletes and unsaved counters, if the disk allows.</summary>
    public bool TryFlush()
    {
        ledger.Delta.Clear();
        Begin();
        try
        {
            DeletePendingInTransaction();
            ledger.FlushCounters(sql.AddCounters);
            sql.Commit.Execute();
        }
        catch (SQLiteException ex) when (disk.IsFull(ex))
        {
            Rollback();
            ledger.Delta.Clear();
            disk.OnFull(ex, "saving counters");
            return false;
        }
        catch
        {
            Rollback();
            ledger.Delta.Clear();
            throw;
        }

        ledger.ApplyCommitted();
        disk.AfterCommit();
        return true;
    }

    /// <summary>Drops expired messages if there are any and the disk allows; never throws for a full disk.</summary>
    public int TryPurgeExpired(long nowMs)
    {
        bool any;
        try
        {
            sql.AnyExpired.Bind(1, nowMs);
            any = sql.AnyExpired.Step();
        }
        finally
        {
            sql.AnyExpired.Reset();
        }

        // While the disk is full, pending deletes and counters wait for the next enqueue or acknowledgement.
        if (!any && (disk.DiskFull || (ledger.PendingDeletes.Count == 0 && !ledger.HasUnsavedCounters())))
            return 0;
        ledger.Delta.Clear();
        Begin();
        try
        {
            DeletePendingInTransaction();
            PurgeExpiredInTransaction(nowMs);
            ledger.FlushCounters(sql.AddCounters);
            sql.Commit.Execute();
        }
        catch (SQLiteException ex) when (disk.IsFull(ex))
        {
            // Expired rows are skipped by peeks anyway; they go with a later transaction.
            Rollback();
            ledger.Delta.Clear();
            disk.OnFull(ex, "dropping expired messages");
            return 0;
        }
        catch
        {
            Rollback();
            ledger.Delta.Clear();
            throw;
        }

        int purged = ledger.Delta.ExpiredMessagesTotal;
        ledger.ApplyCommitted();
        disk.AfterCommit();
        return purged;
    }

    /// <summary>Inside the caller's transaction: deletes the expired rows and counts them per class in the delta.</summary>
    public void PurgeExpiredInTransaction(long nowMs)
    {
        bool any = false;
        try
        {
            sql.ExpiredByClass.Bind(1, nowMs);
            while (sql.ExpiredByClass.Step())
            {
                int slot = OutboxLedger.SlotOf(sql.ExpiredByClass.Int64(0));
                long count = sql.ExpiredByClass.Int64(1);
                long bytes = sql.ExpiredByClass.Int64(2);
                ledger.Delta.Expire(slot, count, bytes);
                any = true;
            }
        }
        finally
        {
            sql.ExpiredByClass.Reset();
        }

        if (any)
            sql.DeleteExpired.Bind(1, nowMs).Execute();
    }

    /// <summary>A refusal is a result, not an error: counted now, persisted with this or the next transaction that succeeds.</summary>
    public void RecordRefusal(int slot, bool failed)
    {
        if (failed)
            ledger.UnsavedFailed[slot]++;
        else
            ledger.UnsavedRefused[slot]++;
        if (!disk.DiskFull)
            TryFlush();
    }
}
