namespace EdgeKws.Device.Outbox;

/// <summary>
/// How an <see cref="OutboxStore"/> splits its <see cref="OutboxOptions.QuotaBytes"/> between the files it keeps on
/// disk. The quota bounds everything the outbox occupies: the database file, its write-ahead log (the <c>-wal</c>
/// file; there is no <c>-shm</c> file, the WAL index lives in memory in exclusive locking mode) and the reserve file.
/// </summary>
/// <remarks>
/// <para><b>Reserve</b>: a file of <see cref="ReserveBytes"/> allocated (fallocate) next to the database. When the
/// disk fills up (something else filled it, or the quota is larger than the disk) the store deletes it, which gives
/// the write-ahead log room for the transactions that evict old messages and store new ones, and for the deletes
/// that follow PUBACKs. It is allocated again once the disk has room for it twice over.</para>
/// <para><b>Write-ahead log</b>: checkpointed into the database and truncated to zero after any commit that leaves it
/// above <see cref="WalCheckpointBytes"/>, so it never holds more than that plus one transaction. One transaction
/// stores at most one message of at most <see cref="MaxMessageBytes"/> and evicts about as much, hence
/// <see cref="WalMaxBytes"/> = checkpoint threshold + 2 x the largest message + 8 pages.</para>
/// <para><b>Database file</b>: capped at <see cref="DatabaseMaxBytes"/> with SQLite's <c>max_page_count</c>, what is
/// left of the quota. Pages freed by deletes are reused, so the file never grows past the cap; an insert that would
/// need more pages fails inside SQLite (SQLITE_FULL) and the store evicts by class and retries, exactly as when the
/// disk itself is full.</para>
/// <para><b>Data quota</b>: <see cref="DataQuotaBytes"/>, the sum of <see cref="OutboxMessage.SizeBytes"/> the store
/// keeps, is half of the database cap less eight pages for the schema. B-tree pages of small rows are filled to 50-100 %,
/// so counting bytes against half the cap makes the byte-exact eviction the one that normally acts; the page cap is
/// the guarantee behind it.</para>
/// </remarks>
/// <param name="QuotaBytes">The configured bound on the outbox's files.</param>
/// <param name="PageSizeBytes">SQLite page size of the database.</param>
/// <param name="ReserveBytes">Size of the reserve file.</param>
/// <param name="MaxMessageBytes">Largest accounted message size accepted (larger ones are <see cref="EnqueueStatus.RefusedTooLarge"/>).</param>
/// <param name="WalCheckpointBytes">The write-ahead log is checkpointed and truncated after a commit that leaves it larger than this.</param>
/// <param name="WalMaxBytes">Most the write-ahead log can hold: the threshold plus one transaction.</param>
/// <param name="DatabaseMaxBytes">Cap of the database file (a whole number of pages).</param>
/// <param name="DataQuotaBytes">Most accounted message bytes stored.</param>
public readonly record struct OutboxBudget(
    long QuotaBytes,
    int PageSizeBytes,
    long ReserveBytes,
    long MaxMessageBytes,
    long WalCheckpointBytes,
    long WalMaxBytes,
    long DatabaseMaxBytes,
    long DataQuotaBytes)
{
    /// <summary>Pages kept out of the data quota for the schema (tables, indexes, counters).</summary>
    internal const int SchemaPages = 8;

    /// <summary>Database cap in pages (<c>PRAGMA max_page_count</c>).</summary>
    public long DatabaseMaxPages => DatabaseMaxBytes / PageSizeBytes;

    /// <summary>Splits <paramref name="quotaBytes"/>; false (with the reason) when it leaves the database less than 16 pages.</summary>
    public static bool TryCompute(long quotaBytes, int pageSizeBytes, out OutboxBudget budget, out string reason)
    {
        long page = pageSizeBytes;
        long reserve = RoundUp(Math.Clamp(quotaBytes / 16, 32 * 1024, 1024 * 1024), page);
        long maxMessage = Math.Min(quotaBytes / 16, 1024 * 1024);
        long walCheckpoint = reserve;
        long walMax = walCheckpoint + (2 * maxMessage) + (8 * page);
        long database = (quotaBytes - reserve - walMax) / page * page;
        long data = (database - (SchemaPages * page)) / 2;
        budget = new OutboxBudget(quotaBytes, pageSizeBytes, reserve, maxMessage, walCheckpoint, walMax, database, data);
        if (database < 16 * page || data <= 0)
        {
            reason = $"a quota of {quotaBytes} bytes leaves the database {database} bytes after the reserve ({reserve}) and the write-ahead log ({walMax}); it needs at least {16 * page}";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
