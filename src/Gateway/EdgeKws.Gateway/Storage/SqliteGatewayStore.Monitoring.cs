using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>Monitoring tables and queries of the SQLite store (schema version 2).</summary>
public sealed partial class SqliteGatewayStore
{
    /// <summary>Longest label source text.</summary>
    public const int MaxLabelSourceLength = MonitoringValues.MaxLabelSourceLength;

    /// <summary>Longest cohort name.</summary>
    public const int MaxCohortLength = MonitoringValues.MaxCohortLength;

    private static readonly string[] MonitoringDdl =
    [
        "ALTER TABLE devices ADD COLUMN cohort TEXT",
        // One label per detection, keyed like the detection; the latest decision replaces the previous one.
        """
        CREATE TABLE IF NOT EXISTS labels (
            device_id        TEXT NOT NULL,
            seq              INTEGER NOT NULL,
            label            TEXT NOT NULL,
            source           TEXT NOT NULL,
            labeled_utc_ms   INTEGER NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS labels_label ON labels (label)",
        """
        CREATE TABLE IF NOT EXISTS models (
            model_version        TEXT PRIMARY KEY NOT NULL,
            feature_config_hash  TEXT NOT NULL,
            baseline_json        BLOB NOT NULL,
            uploaded_utc_ms      INTEGER NOT NULL
        )
        """,
        // Scores as little-endian float32, labels as one byte each: an evaluation set of 100,000 trials is 500 KB.
        """
        CREATE TABLE IF NOT EXISTS evaluations (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            model_version    TEXT NOT NULL,
            name             TEXT NOT NULL,
            created_utc_ms   INTEGER NOT NULL,
            negative_hours   REAL NOT NULL,
            scores           BLOB NOT NULL,
            positives        BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS alerts (
            id                     INTEGER PRIMARY KEY AUTOINCREMENT,
            key                    TEXT NOT NULL,
            kind                   TEXT NOT NULL,
            severity               TEXT NOT NULL,
            subject                TEXT NOT NULL,
            message                TEXT NOT NULL,
            evidence_url           TEXT NOT NULL,
            since_utc_ms           INTEGER NOT NULL,
            last_evaluated_utc_ms  INTEGER NOT NULL,
            resolved_utc_ms        INTEGER
        )
        """,
        // At most one active alert per key: the deduplication rule, enforced by the database.
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
        MonitoringValues.ValidateCohort(cohort);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _writer.Execute("UPDATE devices SET cohort = ? WHERE device_id = ?", cohort, deviceId) == 1;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ReadCohorts()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<CohortRow>("SELECT device_id AS DeviceId, cohort AS Cohort FROM devices WHERE cohort IS NOT NULL")
                .ToDictionary(r => r.DeviceId, r => r.Cohort!, StringComparer.Ordinal);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<DetectionRow>(
                    """
                    SELECT d.device_id AS DeviceId, d.seq AS Seq, d.device_time_utc_ms AS DeviceTime, d.received_utc_ms AS Received, d.score AS Score,
                           d.keyword AS Keyword, d.model_version AS ModelVersion, d.clip_id AS ClipId,
                           l.label AS Label, l.source AS Source, l.labeled_utc_ms AS Labeled
                    FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
                    WHERE d.device_time_utc_ms >= ? AND d.device_time_utc_ms < ? AND (?3 IS NULL OR d.device_id = ?3) AND (?4 IS NULL OR d.model_version = ?4)
                    ORDER BY d.device_time_utc_ms DESC, d.device_id, d.seq DESC LIMIT ?5
                    """,
                    query.FromUtc.ToUnixTimeMilliseconds(), query.ToUtc.ToUnixTimeMilliseconds(), query.DeviceId, query.ModelVersion, query.Limit)
                .Select(r => new DetectionRecord(r.DeviceId, r.Seq, DateTimeOffset.FromUnixTimeMilliseconds(r.DeviceTime),
                    DateTimeOffset.FromUnixTimeMilliseconds(r.Received), r.Score, r.Keyword, r.ModelVersion, r.ClipId,
                    r.Label is null ? null : new DetectionLabel(r.DeviceId, r.Seq, Enum.Parse<DetectionLabelKind>(r.Label), r.Source ?? string.Empty,
                        DateTimeOffset.FromUnixTimeMilliseconds(r.Labeled ?? 0))))
                .ToList();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var results = new string?[labels.Count];
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                for (int i = 0; i < labels.Count; i++)
                {
                    DetectionLabel l = labels[i];
                    if (MonitoringValues.RefuseLabel(l) is { } refused)
                    {
                        results[i] = refused;
                        continue;
                    }
                    if (_writer.ExecuteScalar<long>("SELECT COUNT(*) FROM detections WHERE device_id = ? AND seq = ?", l.DeviceId, l.Sequence) == 0)
                    {
                        results[i] = MonitoringValues.NoDetection(l);
                        continue;
                    }
                    _writer.Execute(
                        """
                        INSERT INTO labels (device_id, seq, label, source, labeled_utc_ms) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (device_id, seq) DO UPDATE SET label = excluded.label, source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
                        """,
                        l.DeviceId, l.Sequence, l.Label.ToString(), l.Source, l.LabeledUtc.ToUnixTimeMilliseconds());
                }
                _writer.Execute("COMMIT");
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
        return results;
    }

    /// <inheritdoc />
    public IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<LabelRow>(
                    "SELECT device_id AS DeviceId, seq AS Seq, label AS Label, source AS Source, labeled_utc_ms AS Labeled FROM labels WHERE (?1 IS NULL OR device_id = ?1) ORDER BY labeled_utc_ms DESC, device_id, seq LIMIT ?2",
                    deviceId, limit)
                .Select(r => new DetectionLabel(r.DeviceId, r.Seq, Enum.Parse<DetectionLabelKind>(r.Label), r.Source, DateTimeOffset.FromUnixTimeMilliseconds(r.Labeled)))
                .ToList();
        }
    }

    /// <inheritdoc />
    public long CountReviewQueue()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.ExecuteScalar<long>("SELECT COUNT(*) FROM labels WHERE label = 'Unknown'");
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ActivityRow> ReadActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket)
    {
        long bucketMs = (long)bucket.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketMs, nameof(bucket));
        long from = fromUtc.ToUnixTimeMilliseconds(), to = toUtc.ToUnixTimeMilliseconds();
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // A heartbeat counts in the bucket of its end time (device time), with what HeartbeatListening says it contributes.
            List<HeartbeatChainSqlRow> heartbeats = _reader.Query<HeartbeatChainSqlRow>(HeartbeatChainSql, from, to);
            List<ActivitySqlRow> detections = _reader.Query<ActivitySqlRow>(
                $"""
                SELECT (d.device_time_utc_ms / ?3) * ?3 AS Bucket, d.device_id AS DeviceId, d.model_version AS ModelVersion, 0.0 AS Listening,
                       SUM(l.label = 'TrueAccept') AS TrueAccepts, SUM(l.label = 'FalseAccept') AS FalseAccepts,
                       SUM(l.label IS NULL OR l.label = 'Unknown') AS Unlabelled, SUM({MonitoringValues.PendingReviewSql}) AS PendingReview
                FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
                WHERE d.device_time_utc_ms >= ?1 AND d.device_time_utc_ms < ?2 GROUP BY 1, 2, 3
                """, from, to, bucketMs);
            return MonitoringValues.MergeActivity(heartbeats.Select(h => h.ToRow()), bucketMs,
                detections.Select(r => new ActivityRow(DateTimeOffset.FromUnixTimeMilliseconds(r.Bucket), r.DeviceId, r.ModelVersion, 0, r.TrueAccepts, r.FalseAccepts,
                    r.Unlabelled, PendingReview: r.PendingReview)));
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<StoredSketch> ReadSketches(DateTimeOffset fromUtc, DateTimeOffset toUtc, string? modelVersion)
    {
        List<SketchRow> rows;
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            rows = _reader.Query<SketchRow>(
                "SELECT device_id AS DeviceId, seq AS Seq, sketch_json AS Json FROM sketches WHERE window_end_utc_ms >= ?1 AND window_end_utc_ms < ?2 AND (?3 IS NULL OR model_version = ?3) ORDER BY window_end_utc_ms, device_id, seq",
                fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds(), modelVersion);
        }
        return rows.Select(r => MonitoringValues.ParseSketch(r.DeviceId, r.Seq, r.Json)).ToList();
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelRecord> ReadModels()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<ModelRow>(
                    """
                    WITH v(mv, first_ms) AS (
                        SELECT model_version, MIN(device_time_utc_ms) FROM detections GROUP BY model_version
                        UNION ALL SELECT model_version, MIN(device_time_utc_ms) FROM heartbeats GROUP BY model_version
                        UNION ALL SELECT active_model_version, MIN(device_time_utc_ms) FROM model_status GROUP BY active_model_version
                        UNION ALL SELECT model_version, NULL FROM devices WHERE model_version IS NOT NULL
                        UNION ALL SELECT model_version, NULL FROM models)
                    SELECT v.mv AS ModelVersion, MIN(v.first_ms) AS FirstSeen,
                           (SELECT COUNT(*) FROM devices d WHERE d.model_version = v.mv) AS ActiveDevices,
                           (SELECT COUNT(*) FROM detections x WHERE x.model_version = v.mv) AS Detections,
                           m.uploaded_utc_ms AS BaselineUploaded, m.feature_config_hash AS BaselineHash
                    FROM v LEFT JOIN models m ON m.model_version = v.mv
                    GROUP BY v.mv ORDER BY v.mv
                    """)
                .Select(r => new ModelRecord(r.ModelVersion, r.ActiveDevices, r.Detections, FromMs(r.FirstSeen), r.BaselineUploaded is not null,
                    FromMs(r.BaselineUploaded), r.BaselineHash))
                .ToList();
        }
    }

    /// <inheritdoc />
    public void SetModelBaseline(string modelVersion, DriftSketch baseline, DateTimeOffset nowUtc)
    {
        MonitoringValues.ValidateBaseline(modelVersion, baseline);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute(
                """
                INSERT INTO models (model_version, feature_config_hash, baseline_json, uploaded_utc_ms) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (model_version) DO UPDATE SET feature_config_hash = ?2, baseline_json = ?3, uploaded_utc_ms = ?4
                """,
                modelVersion, baseline.FeatureConfigHash, WireJson.Serialize(baseline), nowUtc.ToUnixTimeMilliseconds());
        }
    }

    /// <inheritdoc />
    public bool TryGetModelBaseline(string modelVersion, out DriftSketch? baseline)
    {
        byte[]? json;
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            json = _reader.ExecuteScalar<byte[]>("SELECT baseline_json FROM models WHERE model_version = ?", modelVersion);
        }
        baseline = json is null ? null : MonitoringValues.ParseBaseline(modelVersion, json);
        return baseline is not null;
    }

    /// <inheritdoc />
    public long AddEvaluation(EvaluationRecord evaluation)
    {
        MonitoringValues.ValidateEvaluation(evaluation);
        byte[] scores = MonitoringValues.EncodeScores(evaluation.Scores);
        byte[] positives = MonitoringValues.EncodePositives(evaluation.Positives);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("INSERT INTO evaluations (model_version, name, created_utc_ms, negative_hours, scores, positives) VALUES (?, ?, ?, ?, ?, ?)",
                evaluation.ModelVersion, evaluation.Name, evaluation.CreatedUtc.ToUnixTimeMilliseconds(), evaluation.NegativeHours, scores, positives);
            return _writer.ExecuteScalar<long>("SELECT last_insert_rowid()");
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<EvaluationRecord> ReadEvaluations(string? modelVersion, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<EvaluationRow>(
                    "SELECT id AS Id, model_version AS ModelVersion, name AS Name, created_utc_ms AS Created, negative_hours AS NegativeHours, scores AS Scores, positives AS Positives FROM evaluations WHERE (?1 IS NULL OR model_version = ?1) ORDER BY id DESC LIMIT ?2",
                    modelVersion, limit)
                .Select(r => new EvaluationRecord(r.Id, r.ModelVersion, r.Name, DateTimeOffset.FromUnixTimeMilliseconds(r.Created), r.NegativeHours,
                    MonitoringValues.DecodeScores(r.Scores), MonitoringValues.DecodePositives(r.Positives)))
                .ToList();
        }
    }

    /// <inheritdoc />
    public IngestCounts CountIngest(DateTimeOffset fromUtc, DateTimeOffset toUtc)
    {
        long from = fromUtc.ToUnixTimeMilliseconds(), to = toUtc.ToUnixTimeMilliseconds();
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return new IngestCounts(
                _reader.ExecuteScalar<long>("SELECT COUNT(*) FROM messages WHERE received_utc_ms > ? AND received_utc_ms <= ?", from, to),
                _reader.ExecuteScalar<long>("SELECT COUNT(*) FROM quarantine WHERE received_utc_ms > ? AND received_utc_ms <= ?", from, to));
        }
    }

    /// <inheritdoc />
    public void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(firing);
        long now = nowUtc.ToUnixTimeMilliseconds();
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                var keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (AlertCondition c in firing)
                {
                    if (!keys.Add(c.Key))
                    {
                        continue;
                    }
                    int updated = _writer.Execute(
                        "UPDATE alerts SET severity = ?, message = ?, evidence_url = ?, last_evaluated_utc_ms = ? WHERE key = ? AND resolved_utc_ms IS NULL",
                        c.Severity.ToString(), c.Message, c.EvidenceUrl, now, c.Key);
                    if (updated == 0)
                    {
                        _writer.Execute(
                            "INSERT INTO alerts (key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            c.Key, c.Kind, c.Severity.ToString(), c.Subject, c.Message, c.EvidenceUrl, (c.SinceUtc ?? nowUtc).ToUnixTimeMilliseconds(), now);
                    }
                }
                foreach (string key in _writer.QueryScalars<string>("SELECT key FROM alerts WHERE resolved_utc_ms IS NULL"))
                {
                    if (!keys.Contains(key))
                    {
                        _writer.Execute("UPDATE alerts SET resolved_utc_ms = ? WHERE key = ? AND resolved_utc_ms IS NULL", now, key);
                    }
                }
                _writer.Execute("COMMIT");
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<AlertRow>(
                    $"""
                    SELECT id AS Id, key AS Key, kind AS Kind, severity AS Severity, subject AS Subject, message AS Message, evidence_url AS EvidenceUrl,
                           since_utc_ms AS Since, last_evaluated_utc_ms AS LastEvaluated, resolved_utc_ms AS Resolved
                    FROM alerts {(activeOnly ? "WHERE resolved_utc_ms IS NULL" : string.Empty)} ORDER BY id DESC LIMIT ?
                    """, limit)
                .Select(r => new AlertRecord(r.Id, r.Key, r.Kind, Enum.Parse<AlertSeverity>(r.Severity), r.Subject, r.Message, r.EvidenceUrl,
                    DateTimeOffset.FromUnixTimeMilliseconds(r.Since), DateTimeOffset.FromUnixTimeMilliseconds(r.LastEvaluated), FromMs(r.Resolved)))
                .ToList();
        }
    }

    private sealed class CohortRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public string? Cohort { get; set; }
    }

    private sealed class DetectionRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public long DeviceTime { get; set; }
        public long Received { get; set; }
        public double Score { get; set; }
        public string? Keyword { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public string? ClipId { get; set; }
        public string? Label { get; set; }
        public string? Source { get; set; }
        public long? Labeled { get; set; }
    }

    private sealed class LabelRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public string Label { get; set; } = string.Empty;
        public string Source { get; set; } = string.Empty;
        public long Labeled { get; set; }
    }

    // Each heartbeat in [?1, ?2) with its predecessor of the same totals epoch (index heartbeats_epoch), and whether an
    // earlier epoch exists when it has none (the device's totals restarted).
    private const string HeartbeatChainSql =
        """
        SELECT h.device_time_utc_ms AS DeviceTime, h.device_id AS DeviceId, h.model_version AS ModelVersion, h.listening_s AS Listening,
               h.outbox_evicted_count AS Evicted, h.outbox_expired_count AS Expired, h.totals_epoch AS Epoch, h.total_listening_s AS Total,
               h.total_detections_lost AS LostDetections, p.total_listening_s AS PreviousTotal, p.total_detections_lost AS PreviousLostDetections,
               CASE WHEN h.totals_epoch IS NOT NULL AND p.seq IS NULL
                    THEN EXISTS (SELECT 1 FROM heartbeats e WHERE e.device_id = h.device_id AND e.seq < h.seq AND e.totals_epoch IS NOT NULL)
                    ELSE 0 END AS EarlierEpoch
        FROM heartbeats h
        LEFT JOIN heartbeats p ON p.device_id = h.device_id AND p.seq =
            (SELECT MAX(q.seq) FROM heartbeats q WHERE q.device_id = h.device_id AND q.totals_epoch = h.totals_epoch AND q.seq < h.seq)
        WHERE h.device_time_utc_ms >= ?1 AND h.device_time_utc_ms < ?2
        """;

    private sealed class HeartbeatChainSqlRow
    {
        public long DeviceTime { get; set; }
        public string DeviceId { get; set; } = string.Empty;
        public string ModelVersion { get; set; } = string.Empty;
        public double Listening { get; set; }
        public long Evicted { get; set; }
        public long Expired { get; set; }
        public string? Epoch { get; set; }
        public double? Total { get; set; }
        public long? LostDetections { get; set; }
        public double? PreviousTotal { get; set; }
        public long? PreviousLostDetections { get; set; }
        public long EarlierEpoch { get; set; }

        public HeartbeatChainRow ToRow() => new(DeviceTime, DeviceId, ModelVersion, Listening, Evicted, Expired, Epoch, Total, LostDetections,
            PreviousTotal, PreviousLostDetections, EarlierEpoch != 0);
    }

    private sealed class ActivitySqlRow
    {
        public long Bucket { get; set; }
        public string DeviceId { get; set; } = string.Empty;
        public string ModelVersion { get; set; } = string.Empty;
        public double Listening { get; set; }
        public long TrueAccepts { get; set; }
        public long FalseAccepts { get; set; }
        public long Unlabelled { get; set; }
        public long PendingReview { get; set; }
    }

    private sealed class SketchRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public byte[] Json { get; set; } = [];
    }

    private sealed class ModelRow
    {
        public string ModelVersion { get; set; } = string.Empty;
        public long? FirstSeen { get; set; }
        public long ActiveDevices { get; set; }
        public long Detections { get; set; }
        public long? BaselineUploaded { get; set; }
        public string? BaselineHash { get; set; }
    }

    private sealed class EvaluationRow
    {
        public long Id { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public string Name { get; set; } = string.Empty;
        public long Created { get; set; }
        public double NegativeHours { get; set; }
        public byte[] Scores { get; set; } = [];
        public byte[] Positives { get; set; } = [];
    }

    private sealed class AlertRow
    {
        public long Id { get; set; }
        public string Key { get; set; } = string.Empty;
        public string Kind { get; set; } = string.Empty;
        public string Severity { get; set; } = string.Empty;
        public string Subject { get; set; } = string.Empty;
        public string Message { get; set; } = string.Empty;
        public string EvidenceUrl { get; set; } = string.Empty;
        public long Since { get; set; }
        public long LastEvaluated { get; set; }
        public long? Resolved { get; set; }
    }
}
