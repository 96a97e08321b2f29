namespace EdgeKws.Gateway.Storage;

/// <summary>Model loop reads and state in the SQLite store (schema version 10, see <see cref="IGatewayStore"/> model loop members).</summary>
public sealed partial class SqliteGatewayStore
{
    // Version 9 -> 10: the fine-tune policy's baseline. One row (id 1): the policy has one "last model" per gateway database, and a
    // row of its own (not a registry column) because it moves with jobs, which the registry does not record.
    private static readonly string[] ModelLoopDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS model_loop_baseline (
            id             INTEGER PRIMARY KEY CHECK (id = 1),
            since_utc_ms   INTEGER NOT NULL,
            since          TEXT NOT NULL,
            job_id         TEXT
        )
        """,
    ];

    /// <inheritdoc />
    public IReadOnlyList<RecallRow> ReadRecallActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket)
    {
        long bucketMs = (long)bucket.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketMs, nameof(bucket));
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<RecallSqlRow>(ModelLoopValues.RecallSql("?1", "?2", "?3"), fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds(), bucketMs)
                .Select(r => new RecallRow(DateTimeOffset.FromUnixTimeMilliseconds(r.Bucket), r.ModelVersion, r.TaTriggers, r.TaNear, r.PendingTriggers, r.PendingNear))
                .ToList();
        }
    }

    /// <inheritdoc />
    public bool AdvanceModelLoopBaseline(ModelLoopBaseline baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // The condition is in the statement itself, so the baseline only moves forward whatever the order of writes.
            return _writer.Execute(
                """
                INSERT INTO model_loop_baseline (id, since_utc_ms, since, job_id) VALUES (1, ?1, ?2, ?3)
                ON CONFLICT (id) DO UPDATE SET since_utc_ms = excluded.since_utc_ms, since = excluded.since, job_id = excluded.job_id
                WHERE excluded.since_utc_ms > model_loop_baseline.since_utc_ms
                """, baseline.SinceUtc.ToUnixTimeMilliseconds(), baseline.Since, baseline.JobId) == 1;
        }
    }

    /// <inheritdoc />
    public bool TryGetModelLoopBaseline(out ModelLoopBaseline? baseline)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<BaselineSqlRow> rows = _reader.Query<BaselineSqlRow>("SELECT since_utc_ms AS SinceMs, since AS Since, job_id AS JobId FROM model_loop_baseline WHERE id = 1");
            baseline = rows.Count == 1 ? new ModelLoopBaseline(DateTimeOffset.FromUnixTimeMilliseconds(rows[0].SinceMs), rows[0].Since, rows[0].JobId) : null;
            return baseline is not null;
        }
    }

    private sealed class RecallSqlRow
    {
        public long Bucket { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public long TaTriggers { get; set; }
        public long TaNear { get; set; }
        public long PendingTriggers { get; set; }
        public long PendingNear { get; set; }
    }

    private sealed class BaselineSqlRow
    {
        public long SinceMs { get; set; }
        public string Since { get; set; } = string.Empty;
        public string? JobId { get; set; }
    }
}
