using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The monitoring figures over either database (schema step 2: <c>devices.cohort</c>, <c>models</c>, <c>evaluations</c> and the time
/// indexes): cohorts, activity (listening time and labelled detections), drift sketches, models and their baselines, evaluations and
/// ingest counts, the one implementation of <see cref="IMonitoringStore"/>, which <see cref="SqliteGatewayStore"/> and
/// <see cref="PostgresGatewayStore"/> delegate to. The rest of step 2 is <see cref="DetectionLabelStore"/> (labels, review queue) and
/// <see cref="AlertStore"/> (alerts). SQL is written once; <see cref="StoreDialect"/> supplies the DDL types, <see cref="StoreDialect.BinaryOrder"/>
/// and <see cref="StoreDialect.Limit"/>. The argument rules are <see cref="MonitoringArgumentRules"/>, the blob encodings <see cref="MonitoringColumnEncoding"/>.
/// </summary>
internal sealed class MonitoringStore : IMonitoringStore
{
    // Each heartbeat in [$1, $2) with its predecessor of the same totals epoch (index heartbeats_epoch), and whether an earlier
    // epoch exists when it has none (the device's totals restarted). `ELSE false`: PostgreSQL's CASE needs one type with EXISTS
    // (boolean); SQLite reads false as 0 and EXISTS as 0 or 1 (read with GetBoolean).
    private const string HeartbeatChainSql =
        """
        SELECT h.device_time_utc_ms, h.device_id, h.model_version, h.listening_s, h.outbox_evicted_count, h.outbox_expired_count,
               h.totals_epoch, h.total_listening_s, h.total_detections_lost, p.total_listening_s, p.total_detections_lost,
               CASE WHEN h.totals_epoch IS NOT NULL AND p.seq IS NULL
                    THEN EXISTS (SELECT 1 FROM heartbeats e WHERE e.device_id = h.device_id AND e.seq < h.seq AND e.totals_epoch IS NOT NULL)
                    ELSE false END
        FROM heartbeats h
        LEFT JOIN heartbeats p ON p.device_id = h.device_id AND p.seq =
            (SELECT max(q.seq) FROM heartbeats q WHERE q.device_id = h.device_id AND q.totals_epoch = h.totals_epoch AND q.seq < h.seq)
        WHERE h.device_time_utc_ms >= $1 AND h.device_time_utc_ms < $2
        """;

    // Detections per (bucket, device, model). A heartbeat counts in the bucket of its end time (device time); integer division
    // truncates toward zero in both databases, so the buckets are the same. CASE ... THEN 1 ELSE 0 rather than SQLite's SUM of a
    // comparison (PostgreSQL has no boolean sum): the same counts, and 0 rather than NULL for a group without labels on both.
    private const string DetectionActivitySql =
        $"""
        SELECT (d.device_time_utc_ms / $3) * $3, d.device_id, d.model_version,
               sum(CASE WHEN l.label = 'TrueAccept' THEN 1 ELSE 0 END), sum(CASE WHEN l.label = 'FalseAccept' THEN 1 ELSE 0 END),
               sum(CASE WHEN l.label IS NULL OR l.label = 'Unknown' THEN 1 ELSE 0 END), sum({DetectionLabelStore.PendingReviewSql})
        FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
        WHERE d.device_time_utc_ms >= $1 AND d.device_time_utc_ms < $2
        GROUP BY 1, 2, 3
        """;

    private readonly IStoreConnections _db;
    private readonly string _sketchesSql;
    private readonly string _modelsSql;

    public MonitoringStore(IStoreConnections db)
    {
        _db = db;
        string binary = db.Dialect.BinaryOrder;
        // Text keys in ORDER BY by code point on both databases (SQLite's BINARY; PostgreSQL COLLATE "C"), as both stores did.
        _sketchesSql =
            $"""
            SELECT device_id, seq, sketch_json FROM sketches
            WHERE window_end_utc_ms >= $1 AND window_end_utc_ms < $2 AND ($3 IS NULL OR model_version = $3)
            ORDER BY window_end_utc_ms, device_id{binary}, seq
            """;
        // Grouped by the joined baseline's columns too (PostgreSQL wants every selected column grouped or aggregated; SQLite took
        // them bare): models.model_version is the key, so at most one baseline joins a version and the groups are the same.
        _modelsSql =
            $"""
            WITH v(mv, first_ms) AS (
                SELECT model_version, min(device_time_utc_ms) FROM detections GROUP BY model_version
                UNION ALL SELECT model_version, min(device_time_utc_ms) FROM heartbeats GROUP BY model_version
                UNION ALL SELECT active_model_version, min(device_time_utc_ms) FROM model_status GROUP BY active_model_version
                UNION ALL SELECT model_version, NULL FROM devices WHERE model_version IS NOT NULL
                UNION ALL SELECT model_version, NULL FROM models)
            SELECT v.mv, min(v.first_ms),
                   (SELECT count(*) FROM devices d WHERE d.model_version = v.mv),
                   (SELECT count(*) FROM detections x WHERE x.model_version = v.mv),
                   m.uploaded_utc_ms, m.feature_config_hash
            FROM v LEFT JOIN models m ON m.model_version = v.mv
            GROUP BY v.mv, m.uploaded_utc_ms, m.feature_config_hash ORDER BY v.mv{binary}
            """;
    }

    /// <summary>Schema step 2 (version 1 -> 2) with <see cref="DetectionLabelStore.Ddl"/> and <see cref="AlertStore.Ddl"/>, each statement
    /// idempotent. Same text as both stores' old arrays, except that PostgreSQL's <c>models.model_version</c> now also says NOT NULL
    /// (as SQLite's; a PostgreSQL key is never null anyway).</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        d.AddColumn("devices", "cohort", d.Text),
        $"""
        CREATE TABLE IF NOT EXISTS models (
            model_version        {d.Text} PRIMARY KEY NOT NULL,
            feature_config_hash  {d.Text} NOT NULL,
            baseline_json        {d.Blob} NOT NULL,
            uploaded_utc_ms      {d.Int64} NOT NULL
        )
        """,
        // Scores as little-endian float32, labels as one byte each: an evaluation set of 100,000 trials is 500 KB.
        $"""
        CREATE TABLE IF NOT EXISTS evaluations (
            id               {d.IdentityPrimaryKey},
            model_version    {d.Text} NOT NULL,
            name             {d.Text} NOT NULL,
            created_utc_ms   {d.Int64} NOT NULL,
            negative_hours   {d.Real} NOT NULL,
            scores           {d.Blob} NOT NULL,
            positives        {d.Blob} NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS messages_received ON messages (received_utc_ms)",
        "CREATE INDEX IF NOT EXISTS quarantine_received ON quarantine (received_utc_ms)",
        "CREATE INDEX IF NOT EXISTS heartbeats_time ON heartbeats (device_time_utc_ms)",
        "CREATE INDEX IF NOT EXISTS sketches_window_end ON sketches (window_end_utc_ms)",
        "CREATE INDEX IF NOT EXISTS detections_model ON detections (model_version)",
    ];

    /// <inheritdoc />
    public bool SetDeviceCohort(string deviceId, string? cohort)
    {
        MonitoringArgumentRules.ValidateCohort(cohort);
        return _db.Write(s => s.Execute("UPDATE devices SET cohort = $1 WHERE device_id = $2", cohort, deviceId)) == 1;
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ReadCohorts() =>
        _db.Read(s => s.Query("SELECT device_id, cohort FROM devices WHERE cohort IS NOT NULL", r => (Device: r.GetString(0), Cohort: r.GetString(1))))
            .ToDictionary(r => r.Device, r => r.Cohort, StringComparer.Ordinal);

    /// <inheritdoc />
    public IReadOnlyList<ActivityRow> ReadActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket)
    {
        long bucketMs = (long)bucket.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketMs, nameof(bucket));
        long from = fromUtc.ToUnixTimeMilliseconds(), to = toUtc.ToUnixTimeMilliseconds();
        // Both queries on one session (SQLite: under one hold of the read lock; PostgreSQL: one connection), as both stores did.
        (List<HeartbeatChainRow> heartbeats, List<ActivityRow> detections) = _db.Read(s => (
            s.Query(HeartbeatChainSql, r => new HeartbeatChainRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetDouble(3), r.GetInt64(4), r.GetInt64(5),
                r.GetStringOrNull(6), r.IsNull(7) ? null : r.GetDouble(7), r.IsNull(8) ? null : r.GetInt64(8),
                r.IsNull(9) ? null : r.GetDouble(9), r.IsNull(10) ? null : r.GetInt64(10), r.GetBoolean(11)), from, to),
            s.Query(DetectionActivitySql, r => new ActivityRow(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetString(2), 0,
                r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), PendingReview: r.GetInt64(6)), from, to, bucketMs)));
        return MergeActivity(heartbeats, bucketMs, detections);
    }

    /// <inheritdoc />
    public IReadOnlyList<StoredSketch> ReadSketches(DateTimeOffset fromUtc, DateTimeOffset toUtc, string? modelVersion)
    {
        // Parsed after the connection is given back (SQLite: outside the read lock), as both stores did.
        List<(string Device, long Seq, byte[] Json)> rows = _db.Read(s => s.Query(_sketchesSql,
            r => (r.GetString(0), r.GetInt64(1), r.GetBytes(2) ?? []), fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds(), modelVersion));
        return rows.Select(x => MonitoringColumnEncoding.ParseSketch(x.Device, x.Seq, x.Json)).ToList();
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelRecord> ReadModels() =>
        _db.Read(s => s.Query(_modelsSql, r => new ModelRecord(r.GetString(0), r.GetInt64(2), r.GetInt64(3), FromMs(r, 1), !r.IsNull(4), FromMs(r, 4),
            r.GetStringOrNull(5))));

    /// <inheritdoc />
    public void SetModelBaseline(string modelVersion, DriftSketch baseline, DateTimeOffset nowUtc)
    {
        MonitoringArgumentRules.ValidateBaseline(modelVersion, baseline);
        byte[] json = WireJson.Serialize(baseline);
        _db.Write(s => s.Execute(
            """
            INSERT INTO models (model_version, feature_config_hash, baseline_json, uploaded_utc_ms) VALUES ($1, $2, $3, $4)
            ON CONFLICT (model_version) DO UPDATE SET feature_config_hash = excluded.feature_config_hash, baseline_json = excluded.baseline_json,
                uploaded_utc_ms = excluded.uploaded_utc_ms
            """,
            modelVersion, baseline.FeatureConfigHash, json, nowUtc.ToUnixTimeMilliseconds()));
    }

    /// <inheritdoc />
    public bool TryGetModelBaseline(string modelVersion, out DriftSketch? baseline)
    {
        byte[]? json = _db.Read(s => s.Query("SELECT baseline_json FROM models WHERE model_version = $1", r => r.GetBytes(0), modelVersion)).FirstOrDefault();
        baseline = json is null ? null : MonitoringColumnEncoding.ParseBaseline(modelVersion, json);
        return baseline is not null;
    }

    /// <inheritdoc />
    public long AddEvaluation(EvaluationRecord evaluation)
    {
        MonitoringArgumentRules.ValidateEvaluation(evaluation);
        byte[] scores = MonitoringColumnEncoding.EncodeScores(evaluation.Scores);
        byte[] positives = MonitoringColumnEncoding.EncodePositives(evaluation.Positives);
        return _db.Write(s => s.Query(
            "INSERT INTO evaluations (model_version, name, created_utc_ms, negative_hours, scores, positives) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            r => r.GetInt64(0), evaluation.ModelVersion, evaluation.Name, evaluation.CreatedUtc.ToUnixTimeMilliseconds(), evaluation.NegativeHours, scores, positives)[0]);
    }

    /// <inheritdoc />
    public IReadOnlyList<EvaluationRecord> ReadEvaluations(string? modelVersion, int limit) =>
        _db.Read(s => s.Query(
            "SELECT id, model_version, name, created_utc_ms, negative_hours, scores, positives FROM evaluations WHERE ($1 IS NULL OR model_version = $1) ORDER BY id DESC LIMIT $2",
            r => new EvaluationRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), r.GetDouble(4),
                MonitoringColumnEncoding.DecodeScores(r.GetBytes(5) ?? []), MonitoringColumnEncoding.DecodePositives(r.GetBytes(6) ?? [])),
            modelVersion, _db.Dialect.Limit(limit)));

    /// <inheritdoc />
    public IngestCounts CountIngest(DateTimeOffset fromUtc, DateTimeOffset toUtc) =>
        // One statement, so both counts come from one snapshot (SQLite's store ran two statements on its reader, each its own read).
        _db.Read(s => s.Query(
            """
            SELECT (SELECT count(*) FROM messages WHERE received_utc_ms > $1 AND received_utc_ms <= $2),
                   (SELECT count(*) FROM quarantine WHERE received_utc_ms > $1 AND received_utc_ms <= $2)
            """,
            r => new IngestCounts(r.GetInt64(0), r.GetInt64(1)), fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds())[0]);

    private static DateTimeOffset? FromMs(StoreRow r, int ordinal) => r.IsNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(ordinal));

    /// <summary>
    /// Activity rows per (bucket, device, model): each heartbeat's contribution (<see cref="HeartbeatListening"/>) in the
    /// bucket of its device time, merged with the detection rows. Integer division truncates toward zero, as in both
    /// databases' bucket expressions.
    /// </summary>
    private static List<ActivityRow> MergeActivity(IEnumerable<HeartbeatChainRow> heartbeats, long bucketMs, IEnumerable<ActivityRow> detections)
    {
        var merged = new Dictionary<(long, string, string), ActivityRow>();
        foreach (HeartbeatChainRow h in heartbeats)
        {
            (double listening, bool incomplete, long lost) = HeartbeatListening.Contribution(h);
            long bucket = h.DeviceTimeUtcMs / bucketMs * bucketMs;
            var key = (bucket, h.DeviceId, h.ModelVersion);
            merged.TryGetValue(key, out ActivityRow a);
            merged[key] = a with
            {
                BucketStartUtc = DateTimeOffset.FromUnixTimeMilliseconds(bucket),
                DeviceId = h.DeviceId,
                ModelVersion = h.ModelVersion,
                ListeningSeconds = a.ListeningSeconds + listening,
                ListeningIncomplete = a.ListeningIncomplete || incomplete,
                DetectionsLost = a.DetectionsLost + lost,
            };
        }
        foreach (ActivityRow d in detections)
        {
            var key = (d.BucketStartUtc.ToUnixTimeMilliseconds(), d.DeviceId, d.ModelVersion);
            merged.TryGetValue(key, out ActivityRow a);
            merged[key] = a with
            {
                BucketStartUtc = d.BucketStartUtc,
                DeviceId = d.DeviceId,
                ModelVersion = d.ModelVersion,
                TrueAccepts = a.TrueAccepts + d.TrueAccepts,
                FalseAccepts = a.FalseAccepts + d.FalseAccepts,
                Unlabelled = a.Unlabelled + d.Unlabelled,
                PendingReview = a.PendingReview + d.PendingReview,
            };
        }
        return merged.Values.OrderBy(a => a.BucketStartUtc).ThenBy(a => a.DeviceId, StringComparer.Ordinal).ThenBy(a => a.ModelVersion, StringComparer.Ordinal).ToList();
    }
}
