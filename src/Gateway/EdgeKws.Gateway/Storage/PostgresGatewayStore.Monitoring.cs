using EdgeKws.Shared.Contracts;
using Npgsql;
using NpgsqlTypes;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Monitoring tables and queries of the PostgreSQL store (schema version 2): the same tables, keys, orderings and
/// refusals as <see cref="SqliteGatewayStore"/>'s. Text is ordered with <c>COLLATE "C"</c> (ordinal, as SQLite's BINARY).
/// Several instances share the database, so <see cref="ApplyAlerts"/> holds an advisory transaction lock (one
/// evaluation at a time across instances) and relies on the partial unique index <c>alerts_active_key</c>.
/// </summary>
public sealed partial class PostgresGatewayStore
{
    // Serialises alert evaluations of all instances on one database (an arbitrary constant key, distinct from the schema's).
    private const long AlertsLockKey = 0x45444745_4B574131;

    // Version 1 -> 2, each step idempotent (IF NOT EXISTS), run under the schema lock.
    private static readonly string[] MonitoringDdl =
    [
        "ALTER TABLE devices ADD COLUMN IF NOT EXISTS cohort text",
        // One label per detection, keyed like the detection; the latest decision replaces the previous one.
        """
        CREATE TABLE IF NOT EXISTS labels (
            device_id        text NOT NULL,
            seq              bigint NOT NULL,
            label            text NOT NULL,
            source           text NOT NULL,
            labeled_utc_ms   bigint NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS labels_label ON labels (label)",
        """
        CREATE TABLE IF NOT EXISTS models (
            model_version        text PRIMARY KEY,
            feature_config_hash  text NOT NULL,
            baseline_json        bytea NOT NULL,
            uploaded_utc_ms      bigint NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS evaluations (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            model_version    text NOT NULL,
            name             text NOT NULL,
            created_utc_ms   bigint NOT NULL,
            negative_hours   double precision NOT NULL,
            scores           bytea NOT NULL,
            positives        bytea NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS alerts (
            id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key                    text NOT NULL,
            kind                   text NOT NULL,
            severity               text NOT NULL,
            subject                text NOT NULL,
            message                text NOT NULL,
            evidence_url           text NOT NULL,
            since_utc_ms           bigint NOT NULL,
            last_evaluated_utc_ms  bigint NOT NULL,
            resolved_utc_ms        bigint
        )
        """,
        // At most one active alert per key: the deduplication rule, enforced by the database (and the ON CONFLICT target).
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
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("UPDATE devices SET cohort = $1 WHERE device_id = $2", db);
        cmd.Parameters.Add(P(cohort));
        cmd.Parameters.Add(P(deviceId));
        return cmd.ExecuteNonQuery() == 1;
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ReadCohorts()
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT device_id, cohort FROM devices WHERE cohort IS NOT NULL", db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var cohorts = new Dictionary<string, string>(StringComparer.Ordinal);
        while (r.Read())
        {
            cohorts[r.GetString(0)] = r.GetString(1);
        }
        return cohorts;
    }

    /// <inheritdoc />
    public IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT d.device_id, d.seq, d.device_time_utc_ms, d.received_utc_ms, d.score, d.keyword, d.model_version, d.clip_id,
                   l.label, l.source, l.labeled_utc_ms
            FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
            WHERE d.device_time_utc_ms >= $1 AND d.device_time_utc_ms < $2 AND ($3 IS NULL OR d.device_id = $3) AND ($4 IS NULL OR d.model_version = $4)
            ORDER BY d.device_time_utc_ms DESC, d.device_id COLLATE "C", d.seq DESC LIMIT $5
            """, db);
        cmd.Parameters.Add(P(query.FromUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(query.ToUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(query.DeviceId));
        cmd.Parameters.Add(P(query.ModelVersion));
        cmd.Parameters.Add(Limit(query.Limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<DetectionRecord>();
        while (r.Read())
        {
            string device = r.GetString(0);
            long seq = r.GetInt64(1);
            DetectionLabel? label = r.IsDBNull(8)
                ? null
                : new DetectionLabel(device, seq, Enum.Parse<DetectionLabelKind>(r.GetString(8)), Text(r, 9) ?? string.Empty, FromMs(r, 10) ?? DateTimeOffset.UnixEpoch);
            list.Add(new DetectionRecord(device, seq, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
                r.GetDouble(4), Text(r, 5), r.GetString(6), Text(r, 7), label));
        }
        return list;
    }

    /// <inheritdoc />
    public IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var results = new string?[labels.Count];
        // Row locks in (device, seq) order, as WriteBatch takes them, so two instances labelling at once cannot deadlock. The sort
        // is stable: of two labels of one detection in the same call, the later one is written last and wins, as in SQLite.
        int[] order = Enumerable.Range(0, labels.Count)
            .OrderBy(i => labels[i].DeviceId, StringComparer.Ordinal).ThenBy(i => labels[i].Sequence)
            .ToArray();
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        using var batch = new NpgsqlBatch(db, tx);
        var written = new List<(int Index, NpgsqlBatchCommand Command)>();
        foreach (int i in order)
        {
            DetectionLabel l = labels[i];
            if (MonitoringValues.RefuseLabel(l) is { } refused)
            {
                results[i] = refused;
                continue;
            }
            // Inserted (or replacing the earlier label) only when the detection is stored: 0 rows affected means it is not.
            var cmd = new NpgsqlBatchCommand(
                """
                INSERT INTO labels (device_id, seq, label, source, labeled_utc_ms)
                SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM detections WHERE device_id = $1 AND seq = $2)
                ON CONFLICT (device_id, seq) DO UPDATE SET label = excluded.label, source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
                """);
            cmd.Parameters.Add(P(l.DeviceId));
            cmd.Parameters.Add(P(l.Sequence));
            cmd.Parameters.Add(P(l.Label.ToString()));
            cmd.Parameters.Add(P(l.Source));
            cmd.Parameters.Add(P(l.LabeledUtc.ToUnixTimeMilliseconds()));
            batch.BatchCommands.Add(cmd);
            written.Add((i, cmd));
        }
        if (written.Count > 0)
        {
            batch.ExecuteNonQuery();
            foreach ((int index, NpgsqlBatchCommand cmd) in written)
            {
                if (cmd.RecordsAffected == 0)
                {
                    results[index] = MonitoringValues.NoDetection(labels[index]);
                }
            }
        }
        tx.Commit();
        return results;
    }

    /// <inheritdoc />
    public IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT device_id, seq, label, source, labeled_utc_ms FROM labels WHERE ($1 IS NULL OR device_id = $1)
            ORDER BY labeled_utc_ms DESC, device_id COLLATE "C", seq LIMIT $2
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<DetectionLabel>();
        while (r.Read())
        {
            list.Add(new DetectionLabel(r.GetString(0), r.GetInt64(1), Enum.Parse<DetectionLabelKind>(r.GetString(2)), r.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4))));
        }
        return list;
    }

    /// <inheritdoc />
    public long CountReviewQueue()
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT count(*) FROM labels WHERE label = 'Unknown'", db);
        return (long)cmd.ExecuteScalar()!;
    }

    /// <inheritdoc />
    public IReadOnlyList<ActivityRow> ReadActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket)
    {
        long bucketMs = (long)bucket.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketMs, nameof(bucket));
        using NpgsqlConnection db = Connection();
        // A heartbeat counts in the bucket of its end time (device time), with what HeartbeatListening says it contributes,
        // as in SQLite. Integer division truncates toward zero in both databases, so the buckets are the same.
        var heartbeats = new List<HeartbeatChainRow>();
        using (var cmd = new NpgsqlCommand(
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
                   """, db))
        {
            cmd.Parameters.Add(P(fromUtc.ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(toUtc.ToUnixTimeMilliseconds()));
            using NpgsqlDataReader r = cmd.ExecuteReader();
            while (r.Read())
            {
                heartbeats.Add(new HeartbeatChainRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetDouble(3), r.GetInt64(4), r.GetInt64(5),
                    r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetDouble(7), r.IsDBNull(8) ? null : r.GetInt64(8),
                    r.IsDBNull(9) ? null : r.GetDouble(9), r.IsDBNull(10) ? null : r.GetInt64(10), r.GetBoolean(11)));
            }
        }
        var detections = new List<ActivityRow>();
        using (var cmd = new NpgsqlCommand(
                   $"""
                   SELECT (d.device_time_utc_ms / $3) * $3, d.device_id, d.model_version,
                          sum(CASE WHEN l.label = 'TrueAccept' THEN 1 ELSE 0 END)::bigint, sum(CASE WHEN l.label = 'FalseAccept' THEN 1 ELSE 0 END)::bigint,
                          sum(CASE WHEN l.label IS NULL OR l.label = 'Unknown' THEN 1 ELSE 0 END)::bigint, sum({MonitoringValues.PendingReviewSql})::bigint
                   FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
                   WHERE d.device_time_utc_ms >= $1 AND d.device_time_utc_ms < $2
                   GROUP BY 1, 2, 3
                   """, db))
        {
            cmd.Parameters.Add(P(fromUtc.ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(toUtc.ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(bucketMs));
            using NpgsqlDataReader r = cmd.ExecuteReader();
            while (r.Read())
            {
                detections.Add(new ActivityRow(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetString(2), 0,
                    r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), PendingReview: r.GetInt64(6)));
            }
        }
        return MonitoringValues.MergeActivity(heartbeats, bucketMs, detections);
    }

    /// <inheritdoc />
    public IReadOnlyList<StoredSketch> ReadSketches(DateTimeOffset fromUtc, DateTimeOffset toUtc, string? modelVersion)
    {
        var rows = new List<(string Device, long Seq, byte[] Json)>();
        using (NpgsqlConnection db = Connection())
        using (var cmd = new NpgsqlCommand(
                   """
                   SELECT device_id, seq, sketch_json FROM sketches
                   WHERE window_end_utc_ms >= $1 AND window_end_utc_ms < $2 AND ($3 IS NULL OR model_version = $3)
                   ORDER BY window_end_utc_ms, device_id COLLATE "C", seq
                   """, db))
        {
            cmd.Parameters.Add(P(fromUtc.ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(toUtc.ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(modelVersion));
            using NpgsqlDataReader r = cmd.ExecuteReader();
            while (r.Read())
            {
                rows.Add((r.GetString(0), r.GetInt64(1), r.GetFieldValue<byte[]>(2)));
            }
        }
        return rows.Select(x => MonitoringValues.ParseSketch(x.Device, x.Seq, x.Json)).ToList();
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelRecord> ReadModels()
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
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
            GROUP BY v.mv, m.uploaded_utc_ms, m.feature_config_hash ORDER BY v.mv COLLATE "C"
            """, db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<ModelRecord>();
        while (r.Read())
        {
            list.Add(new ModelRecord(r.GetString(0), r.GetInt64(2), r.GetInt64(3), FromMs(r, 1), !r.IsDBNull(4), FromMs(r, 4), Text(r, 5)));
        }
        return list;
    }

    /// <inheritdoc />
    public void SetModelBaseline(string modelVersion, DriftSketch baseline, DateTimeOffset nowUtc)
    {
        MonitoringValues.ValidateBaseline(modelVersion, baseline);
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            INSERT INTO models (model_version, feature_config_hash, baseline_json, uploaded_utc_ms) VALUES ($1, $2, $3, $4)
            ON CONFLICT (model_version) DO UPDATE SET feature_config_hash = excluded.feature_config_hash, baseline_json = excluded.baseline_json,
                uploaded_utc_ms = excluded.uploaded_utc_ms
            """, db);
        cmd.Parameters.Add(P(modelVersion));
        cmd.Parameters.Add(P(baseline.FeatureConfigHash));
        cmd.Parameters.Add(P(WireJson.Serialize(baseline)));
        cmd.Parameters.Add(P(nowUtc.ToUnixTimeMilliseconds()));
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public bool TryGetModelBaseline(string modelVersion, out DriftSketch? baseline)
    {
        byte[]? json;
        using (NpgsqlConnection db = Connection())
        using (var cmd = new NpgsqlCommand("SELECT baseline_json FROM models WHERE model_version = $1", db))
        {
            cmd.Parameters.Add(P(modelVersion));
            json = cmd.ExecuteScalar() as byte[];
        }
        baseline = json is null ? null : MonitoringValues.ParseBaseline(modelVersion, json);
        return baseline is not null;
    }

    /// <inheritdoc />
    public long AddEvaluation(EvaluationRecord evaluation)
    {
        MonitoringValues.ValidateEvaluation(evaluation);
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            "INSERT INTO evaluations (model_version, name, created_utc_ms, negative_hours, scores, positives) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", db);
        cmd.Parameters.Add(P(evaluation.ModelVersion));
        cmd.Parameters.Add(P(evaluation.Name));
        cmd.Parameters.Add(P(evaluation.CreatedUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(evaluation.NegativeHours));
        cmd.Parameters.Add(P(MonitoringValues.EncodeScores(evaluation.Scores)));
        cmd.Parameters.Add(P(MonitoringValues.EncodePositives(evaluation.Positives)));
        return (long)cmd.ExecuteScalar()!;
    }

    /// <inheritdoc />
    public IReadOnlyList<EvaluationRecord> ReadEvaluations(string? modelVersion, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            "SELECT id, model_version, name, created_utc_ms, negative_hours, scores, positives FROM evaluations WHERE ($1 IS NULL OR model_version = $1) ORDER BY id DESC LIMIT $2",
            db);
        cmd.Parameters.Add(P(modelVersion));
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<EvaluationRecord>();
        while (r.Read())
        {
            list.Add(new EvaluationRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), r.GetDouble(4),
                MonitoringValues.DecodeScores(r.GetFieldValue<byte[]>(5)), MonitoringValues.DecodePositives(r.GetFieldValue<byte[]>(6))));
        }
        return list;
    }

    /// <inheritdoc />
    public IngestCounts CountIngest(DateTimeOffset fromUtc, DateTimeOffset toUtc)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT (SELECT count(*) FROM messages WHERE received_utc_ms > $1 AND received_utc_ms <= $2),
                   (SELECT count(*) FROM quarantine WHERE received_utc_ms > $1 AND received_utc_ms <= $2)
            """, db);
        cmd.Parameters.Add(P(fromUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(toUtc.ToUnixTimeMilliseconds()));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        r.Read();
        return new IngestCounts(r.GetInt64(0), r.GetInt64(1));
    }

    /// <inheritdoc />
    public void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(firing);
        long now = nowUtc.ToUnixTimeMilliseconds();
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        // Every instance runs the alert rules; one evaluation at a time across all of them, so each sees the previous one's rows
        // (READ COMMITTED: every statement after the lock takes a fresh snapshot).
        Exec(db, tx, $"SELECT pg_advisory_xact_lock({AlertsLockKey})");
        using var batch = new NpgsqlBatch(db, tx);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (AlertCondition c in firing)
        {
            if (!keys.Add(c.Key))
            {
                continue;
            }
            // Opens an alert, or updates the active one of the key (the partial unique index is the conflict target): deduplicated
            // while active; kind, subject and since of the open alert stay as they were.
            var cmd = new NpgsqlBatchCommand(
                """
                INSERT INTO alerts (key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (key) WHERE resolved_utc_ms IS NULL DO UPDATE SET severity = excluded.severity, message = excluded.message,
                    evidence_url = excluded.evidence_url, last_evaluated_utc_ms = excluded.last_evaluated_utc_ms
                """);
            cmd.Parameters.Add(P(c.Key));
            cmd.Parameters.Add(P(c.Kind));
            cmd.Parameters.Add(P(c.Severity.ToString()));
            cmd.Parameters.Add(P(c.Subject));
            cmd.Parameters.Add(P(c.Message));
            cmd.Parameters.Add(P(c.EvidenceUrl));
            cmd.Parameters.Add(P((c.SinceUtc ?? nowUtc).ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(now));
            batch.BatchCommands.Add(cmd);
        }
        var resolve = new NpgsqlBatchCommand("UPDATE alerts SET resolved_utc_ms = $1 WHERE resolved_utc_ms IS NULL AND key <> ALL($2)");
        resolve.Parameters.Add(P(now));
        resolve.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = keys.Select(PgText).ToArray() });
        batch.BatchCommands.Add(resolve);
        batch.ExecuteNonQuery();
        tx.Commit();
    }

    /// <inheritdoc />
    public IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            $"""
             SELECT id, key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms, resolved_utc_ms
             FROM alerts {(activeOnly ? "WHERE resolved_utc_ms IS NULL" : string.Empty)} ORDER BY id DESC LIMIT $1
             """, db);
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<AlertRecord>();
        while (r.Read())
        {
            list.Add(new AlertRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), Enum.Parse<AlertSeverity>(r.GetString(3)), r.GetString(4), r.GetString(5),
                r.GetString(6), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)), FromMs(r, 9)));
        }
        return list;
    }

    private NpgsqlConnection Connection()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return OpenConnection();
    }

    // SQLite reads a negative LIMIT as "no limit"; PostgreSQL refuses it but reads LIMIT NULL as "no limit".
    private static NpgsqlParameter Limit(int limit) => P(limit < 0 ? null : (long?)limit);

    private static string? Text(NpgsqlDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);
}
