using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// The outbox's prepared statements, prepared once when the store opens and disposed with it: SQLitePCL.raw, no ORM
/// mapping, no reflection (AOT-clean). Not thread-safe: the store's lock serializes every use.
/// </summary>
internal sealed class OutboxStatements : IDisposable
{
    private readonly List<SqliteStatement> _all = [];

    /// <summary>Prepares every statement; if one fails, disposes those already prepared and rethrows.</summary>
    public OutboxStatements(sqlite3 db)
    {
        try
        {
            Begin = Prepare(db, "BEGIN IMMEDIATE");
            Commit = Prepare(db, "COMMIT");
            Rollback = Prepare(db, "ROLLBACK");
            Insert = Prepare(db, "INSERT INTO messages(seq, class, topic, payload, created_utc_ms, expires_utc_ms, size_bytes, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)");
            SetNextSeq = Prepare(db, "UPDATE meta SET value = ?1 WHERE key = 'next_seq'");
            DeleteBySeq = Prepare(db, "DELETE FROM messages WHERE seq = ?1");
            DeleteBySeqReturning = Prepare(db, "DELETE FROM messages WHERE seq = ?1 RETURNING class, size_bytes");
            RowOfSeq = Prepare(db, "SELECT class, size_bytes FROM messages WHERE seq = ?1");
            OldestOfClass = Prepare(db, "SELECT seq, size_bytes FROM messages WHERE class = ?1 AND seq < ?2 ORDER BY seq LIMIT 256");
            NewestOfClass = Prepare(db, "SELECT MAX(seq) FROM messages WHERE class = ?1");
            ExpiredByClass = Prepare(db, "SELECT class, COUNT(*), SUM(size_bytes) FROM messages WHERE expires_utc_ms <= ?1 GROUP BY class");
            DeleteExpired = Prepare(db, "DELETE FROM messages WHERE expires_utc_ms <= ?1");
            AnyExpired = Prepare(db, "SELECT 1 FROM messages WHERE expires_utc_ms <= ?1 LIMIT 1");
            Peek = Prepare(db, "SELECT seq, class, topic, payload, created_utc_ms, expires_utc_ms, size_bytes, attempts FROM messages WHERE expires_utc_ms > ?1 ORDER BY seq LIMIT ?2");
            AddCounters = Prepare(db, "UPDATE class_counters SET evicted_count = evicted_count + ?2, evicted_bytes = evicted_bytes + ?3, expired_count = expired_count + ?4, expired_bytes = expired_bytes + ?5, refused_count = refused_count + ?6, written_count = written_count + ?7, failed_count = failed_count + ?8, dropped_count = dropped_count + ?9 WHERE class = ?1");
            // MAX: totals only ever grow, whatever order their carriers arrive in.
            SetTotals = Prepare(db, "UPDATE device_totals SET listening_seconds = MAX(listening_seconds, ?1), detections = MAX(detections, ?2), audio_overruns = MAX(audio_overruns, ?3), near_misses = MAX(near_misses, ?4), near_misses_rate_limited = MAX(near_misses_rate_limited, ?5) WHERE id = 1");
            PageCount = Prepare(db, "PRAGMA page_count");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public SqliteStatement Begin { get; }
    public SqliteStatement Commit { get; }
    public SqliteStatement Rollback { get; }
    public SqliteStatement Insert { get; }
    public SqliteStatement SetNextSeq { get; }
    public SqliteStatement DeleteBySeq { get; }
    public SqliteStatement DeleteBySeqReturning { get; }
    public SqliteStatement RowOfSeq { get; }
    public SqliteStatement OldestOfClass { get; }
    public SqliteStatement NewestOfClass { get; }
    public SqliteStatement ExpiredByClass { get; }
    public SqliteStatement DeleteExpired { get; }
    public SqliteStatement AnyExpired { get; }
    public SqliteStatement Peek { get; }
    public SqliteStatement AddCounters { get; }
    public SqliteStatement SetTotals { get; }
    public SqliteStatement PageCount { get; }

    public void Dispose()
    {
        foreach (SqliteStatement s in _all)
            s.Dispose();
        _all.Clear();
    }

    private SqliteStatement Prepare(sqlite3 db, string sql)
    {
        var s = new SqliteStatement(db, sql);
        _all.Add(s);
        return s;
    }
}
