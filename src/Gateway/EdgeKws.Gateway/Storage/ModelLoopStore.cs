namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The model loop's reads and state over either database (schema step 10, table <c>model_loop_baseline</c>): the one implementation
/// of <see cref="IModelLoopStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. SQL
/// is written once; <see cref="StoreDialect"/> supplies only <see cref="StoreDialect.BinaryOrder"/>.
/// </summary>
internal sealed class ModelLoopStore : IModelLoopStore
{
    private readonly IStoreConnections _db;
    private readonly string _recallSql;

    public ModelLoopStore(IStoreConnections db)
    {
        _db = db;
        // Per (bucket, model): decided TrueAccept triggers and near misses, and those pending review. Integer division truncates the
        // same way in both databases, so the buckets match ReadActivity's. Model versions of a bucket order by code point on both
        // (PostgreSQL's store ordered them by the database's collation; the one caller re-sorts them ordinally anyway).
        _recallSql =
            $"""
            SELECT x.bucket, x.model_version, sum(x.ta_trigger), sum(x.ta_near), sum(x.pending_trigger), sum(x.pending_near)
            FROM (
                SELECT (d.device_time_utc_ms / $3) * $3 AS bucket, d.model_version,
                       CASE WHEN l.label = 'TrueAccept' THEN 1 ELSE 0 END AS ta_trigger, 0 AS ta_near,
                       {DetectionLabelStore.PendingReviewSql} AS pending_trigger, 0 AS pending_near
                FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
                WHERE d.device_time_utc_ms >= $1 AND d.device_time_utc_ms < $2
                UNION ALL
                SELECT (n.device_time_utc_ms / $3) * $3, n.model_version, 0, CASE WHEN n.label = 'TrueAccept' THEN 1 ELSE 0 END, 0,
                       CASE WHEN n.label = 'Unknown' OR (n.label IS NULL AND n.clip_id IS NOT NULL AND EXISTS
                           (SELECT 1 FROM clips c WHERE c.device_id = n.device_id AND c.clip_id = n.clip_id)) THEN 1 ELSE 0 END
                FROM near_misses n
                WHERE n.device_time_utc_ms >= $1 AND n.device_time_utc_ms < $2
            ) x
            GROUP BY x.bucket, x.model_version ORDER BY x.bucket, x.model_version{db.Dialect.BinaryOrder}
            """;
    }

    /// <summary>Schema step 10 (version 9 -> 10): the fine-tune policy's baseline. One row (id 1): the policy has one "last model" per
    /// gateway database, and a row of its own (not a registry column) because it moves with jobs, which the registry does not record.
    /// Same text as both stores' old arrays.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS model_loop_baseline (
            id             {d.Int32} PRIMARY KEY CHECK (id = 1),
            since_utc_ms   {d.Int64} NOT NULL,
            since          {d.Text} NOT NULL,
            job_id         {d.Text}
        )
        """,
    ];

    /// <inheritdoc />
    public IReadOnlyList<RecallRow> ReadRecallActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket)
    {
        long bucketMs = (long)bucket.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketMs, nameof(bucket));
        return _db.Read(s => s.Query(_recallSql,
            r => new RecallRow(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5)),
            fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds(), bucketMs));
    }

    /// <inheritdoc />
    public bool AdvanceModelLoopBaseline(ModelLoopBaseline baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        // The condition is in the statement itself, so the baseline only moves forward whatever the order of writes (and, on
        // PostgreSQL, whichever instance writes).
        return _db.Write(s => s.Execute(
            """
            INSERT INTO model_loop_baseline (id, since_utc_ms, since, job_id) VALUES (1, $1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET since_utc_ms = excluded.since_utc_ms, since = excluded.since, job_id = excluded.job_id
            WHERE excluded.since_utc_ms > model_loop_baseline.since_utc_ms
            """,
            baseline.SinceUtc.ToUnixTimeMilliseconds(), baseline.Since, baseline.JobId)) == 1;
    }

    /// <inheritdoc />
    public bool TryGetModelLoopBaseline(out ModelLoopBaseline? baseline)
    {
        baseline = _db.Read(s => s.Query("SELECT since_utc_ms, since, job_id FROM model_loop_baseline WHERE id = 1",
                r => new ModelLoopBaseline(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetStringOrNull(2))))
            .FirstOrDefault();
        return baseline is not null;
    }
}
