using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The monitoring reads and writes over either database (schema step 2: <c>devices.cohort</c>, <c>labels</c>, <c>models</c>,
/// <c>evaluations</c>, <c>alerts</c> and the time indexes): the one implementation of <see cref="IMonitoringStore"/>, which
/// <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. SQL is written once; <see cref="StoreDialect"/>
/// supplies the DDL types, <see cref="StoreDialect.BinaryOrder"/>, <see cref="StoreDialect.Limit"/> and, for the alerts,
/// <see cref="StoreDialect.LockTransaction"/>. The argument rules are <see cref="MonitoringArgumentRules"/>, the blob encodings <see cref="MonitoringColumnEncoding"/>.
/// </summary>
internal sealed class MonitoringStore : IMonitoringStore
{
    // Serialises alert evaluations of all gateway instances on one PostgreSQL database (an arbitrary constant key, distinct from
    // the schema's); the value PostgreSQL's store has always used, so an old and a new instance still exclude each other.
    private const long AlertsLockKey = 0x45444745_4B574131;

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
               sum(CASE WHEN l.label IS NULL OR l.label = 'Unknown' THEN 1 ELSE 0 END), sum({PendingReviewSql})
        FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
        WHERE d.device_time_utc_ms >= $1 AND d.device_time_utc_ms < $2
        GROUP BY 1, 2, 3
        """;

    private const string AlertSelect =
        "SELECT id, key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms, resolved_utc_ms FROM alerts";

    /// <summary>
    /// The definition of "pending review" (docs/gateway.md, Monitoring), one SQL expression over <c>detections d LEFT JOIN labels l</c>
    /// that both databases read the same way: 1 for a detection that has no decided label yet but still can get one, that is
    /// labelled <c>Unknown</c> (the review queue), or has no label and refers to a clip the gateway holds (the labeling worker's
    /// input, or a clip whose features wait for their audio); else 0. A detection without a stored clip and without a label is not
    /// pending: nothing is left to decide it with (no clip was sent, or it was erased or deleted by retention).
    /// </summary>
    internal const string PendingReviewSql =
        "CASE WHEN l.label = 'Unknown' OR (l.label IS NULL AND d.clip_id IS NOT NULL AND EXISTS "
        + "(SELECT 1 FROM clips c WHERE c.device_id = d.device_id AND c.clip_id = d.clip_id)) THEN 1 ELSE 0 END";

    private readonly IStoreConnections _db;
    private readonly string _detectionsSql;
    private readonly string _labelsSql;
    private readonly string _sketchesSql;
    private readonly string _modelsSql;

    public MonitoringStore(IStoreConnections db)
    {
        _db = db;
        string binary = db.Dialect.BinaryOrder;
        // Text keys in ORDER BY by code point on both databases (SQLite's BINARY; PostgreSQL COLLATE "C"), as both stores did.
        _detectionsSql =
            $"""
            SELECT d.device_id, d.seq, d.device_time_utc_ms, d.received_utc_ms, d.score, d.keyword, d.model_version, d.clip_id,
                   l.label, l.source, l.labeled_utc_ms
            FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
            WHERE d.device_time_utc_ms >= $1 AND d.device_time_utc_ms < $2 AND ($3 IS NULL OR d.device_id = $3) AND ($4 IS NULL OR d.model_version = $4)
            ORDER BY d.device_time_utc_ms DESC, d.device_id{binary}, d.seq DESC LIMIT $5
            """;
        _labelsSql =
            $"""
            SELECT device_id, seq, label, source, labeled_utc_ms FROM labels WHERE ($1 IS NULL OR device_id = $1)
            ORDER BY labeled_utc_ms DESC, device_id{binary}, seq LIMIT $2
            """;
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

    /// <summary>Schema step 2 (version 1 -> 2), each statement idempotent. Same text as both stores' old arrays, except that
    /// PostgreSQL's <c>models.model_version</c> now also says NOT NULL (as SQLite's; a PostgreSQL key is never null anyway).</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        d.AddColumn("devices", "cohort", d.Text),
        // One label per detection, keyed like the detection; the latest decision replaces the previous one.
        $"""
        CREATE TABLE IF NOT EXISTS labels (
            device_id        {d.Text} NOT NULL,
            seq              {d.Int64} NOT NULL,
            label            {d.Text} NOT NULL,
            source           {d.Text} NOT NULL,
            labeled_utc_ms   {d.Int64} NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS labels_label ON labels (label)",
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
        $"""
        CREATE TABLE IF NOT EXISTS alerts (
            id                     {d.IdentityPrimaryKey},
            key                    {d.Text} NOT NULL,
            kind                   {d.Text} NOT NULL,
            severity               {d.Text} NOT NULL,
            subject                {d.Text} NOT NULL,
            message                {d.Text} NOT NULL,
            evidence_url           {d.Text} NOT NULL,
            since_utc_ms           {d.Int64} NOT NULL,
            last_evaluated_utc_ms  {d.Int64} NOT NULL,
            resolved_utc_ms        {d.Int64}
        )
        """,
        // At most one active alert per key: the deduplication rule, enforced by the database (and the ON CONFLICT target of ApplyAlerts).
        "CREATE UNIQUE INDEX IF NOT EXISTS alerts_active_key ON alerts (key) WHERE resolved_utc_ms IS NULL",
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
    public IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return _db.Read(s => s.Query(_detectionsSql, r =>
        {
            string device = r.GetString(0);
            long seq = r.GetInt64(1);
            // labels.source and labeled_utc_ms are NOT NULL, so a joined label always has both.
            DetectionLabel? label = r.IsNull(8)
                ? null
                : new DetectionLabel(device, seq, Enum.Parse<DetectionLabelKind>(r.GetString(8)), r.GetStringOrNull(9) ?? string.Empty,
                    DateTimeOffset.FromUnixTimeMilliseconds(r.IsNull(10) ? 0 : r.GetInt64(10)));
            return new DetectionRecord(device, seq, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
                r.GetDouble(4), r.GetStringOrNull(5), r.GetString(6), r.GetStringOrNull(7), label);
        }, query.FromUtc.ToUnixTimeMilliseconds(), query.ToUtc.ToUnixTimeMilliseconds(), query.DeviceId, query.ModelVersion, _db.Dialect.Limit(query.Limit)));
    }

    /// <inheritdoc />
    public IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var results = new string?[labels.Count];
        // Written in (device, seq) order, the order WriteBatch takes row locks in, so two PostgreSQL instances labelling at once cannot
        // deadlock. The sort is stable: of two labels of one detection in the same call, the later one is written last and wins.
        int[] order = Enumerable.Range(0, labels.Count)
            .OrderBy(i => labels[i].DeviceId, StringComparer.Ordinal).ThenBy(i => labels[i].Sequence)
            .ToArray();
        // Inserted (or replacing the earlier label) only when the detection is stored: no row written means it is not. One
        // ExecuteBatch, in that order (PostgreSQL: one round trip for the call).
        var written = new List<int>(labels.Count);
        var statements = new List<StoreStatement>(labels.Count);
        foreach (int i in order)
        {
            DetectionLabel l = labels[i];
            if (MonitoringArgumentRules.RefuseLabel(l) is { } refused)
            {
                results[i] = refused;
                continue;
            }
            written.Add(i);
            statements.Add(new StoreStatement(
                """
                INSERT INTO labels (device_id, seq, label, source, labeled_utc_ms)
                SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM detections WHERE device_id = $1 AND seq = $2)
                ON CONFLICT (device_id, seq) DO UPDATE SET label = excluded.label, source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
                """,
                [l.DeviceId, l.Sequence, l.Label.ToString(), l.Source, l.LabeledUtc.ToUnixTimeMilliseconds()]));
        }
        int[] changed = _db.Write(s => s.InTransaction(() => s.ExecuteBatch(statements)));
        for (int k = 0; k < written.Count; k++)
        {
            if (changed[k] == 0)
            {
                results[written[k]] = MonitoringArgumentRules.NoDetection(labels[written[k]]);
            }
        }
        return results;
    }

    /// <inheritdoc />
    public IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit) =>
        _db.Read(s => s.Query(_labelsSql,
            r => new DetectionLabel(r.GetString(0), r.GetInt64(1), Enum.Parse<DetectionLabelKind>(r.GetString(2)), r.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4))),
            deviceId, _db.Dialect.Limit(limit)));

    /// <inheritdoc />
    public long CountReviewQueue() => _db.Read(s => s.Query("SELECT count(*) FROM labels WHERE label = 'Unknown'", r => r.GetInt64(0))[0]);

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

    /// <inheritdoc />
    public void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(firing);
        long now = nowUtc.ToUnixTimeMilliseconds();
        _db.Write(s => s.InTransaction(() =>
        {
            // Every instance runs the alert rules; one evaluation at a time across all of them, so each sees the previous one's rows.
            s.Dialect.LockTransaction(s, AlertsLockKey);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var kept = new HashSet<long>();
            foreach (AlertCondition c in firing)
            {
                if (!keys.Add(c.Key))
                {
                    continue;
                }
                // Opens an alert, or updates the active one of the key (the partial unique index is the conflict target): deduplicated
                // while active; kind, subject and since of the open alert stay as they were.
                kept.Add(s.Query(
                    """
                    INSERT INTO alerts (key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (key) WHERE resolved_utc_ms IS NULL DO UPDATE SET severity = excluded.severity, message = excluded.message,
                        evidence_url = excluded.evidence_url, last_evaluated_utc_ms = excluded.last_evaluated_utc_ms
                    RETURNING id
                    """,
                    r => r.GetInt64(0), c.Key, c.Kind, c.Severity.ToString(), c.Subject, c.Message, c.EvidenceUrl, (c.SinceUtc ?? nowUtc).ToUnixTimeMilliseconds(), now)[0]);
            }
            // Every other active alert is resolved. Chosen by the ids just written rather than by key text: the key a database stores
            // may differ from the C# string (a lone surrogate does not survive either database's text, nor U+0000 PostgreSQL's), and an
            // id compares the same on both.
            // One ExecuteBatch (PostgreSQL: one round trip for all of them).
            s.ExecuteBatch([.. s.Query("SELECT id FROM alerts WHERE resolved_utc_ms IS NULL", r => r.GetInt64(0))
                .Where(id => !kept.Contains(id))
                .Select(id => new StoreStatement("UPDATE alerts SET resolved_utc_ms = $1 WHERE id = $2", [now, id]))]);
            return 0;
        }));
    }

    /// <inheritdoc />
    public IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit) =>
        _db.Read(s => s.Query(
            $"{AlertSelect} {(activeOnly ? "WHERE resolved_utc_ms IS NULL" : string.Empty)} ORDER BY id DESC LIMIT $1",
            r => new AlertRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), Enum.Parse<AlertSeverity>(r.GetString(3)), r.GetString(4), r.GetString(5),
                r.GetString(6), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)), FromMs(r, 9)),
            _db.Dialect.Limit(limit)));

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
