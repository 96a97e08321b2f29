using Npgsql;
using NpgsqlTypes;

namespace EdgeKws.Gateway.Storage;

/// <summary>Labeling tables of the PostgreSQL store (schema step "labeling"; same tables and rules as <see cref="SqliteGatewayStore"/>).</summary>
public sealed partial class PostgresGatewayStore
{
    private static readonly string[] LabelingDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS label_provenance (
            device_id        text NOT NULL,
            seq              bigint NOT NULL,
            kind             text NOT NULL,
            tool             text NOT NULL,
            confidence       double precision,
            reviewer         text,
            source           text NOT NULL,
            labeled_utc_ms   bigint NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS review_entries (
            device_id        text NOT NULL,
            seq              bigint NOT NULL,
            clip_id          text,
            reason           text NOT NULL,
            candidate        text NOT NULL,
            confidence       double precision,
            tool             text NOT NULL,
            queued_utc_ms    bigint NOT NULL,
            decision         text,
            reviewer         text,
            decided_utc_ms   bigint,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS label_audits (
            id               bigserial PRIMARY KEY,
            device_id        text NOT NULL,
            seq              bigint NOT NULL,
            reviewer         text NOT NULL,
            label            text NOT NULL,
            first_label      text NOT NULL,
            first_kind       text,
            audited_utc_ms   bigint NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS detections_clip ON detections (device_id, clip_id)",
    ];

    private const string ProvenanceSelect =
        """
        SELECT l.device_id, l.seq, l.label, l.source, l.labeled_utc_ms, p.kind, p.tool, p.confidence, p.reviewer
        FROM labels l LEFT JOIN label_provenance p
          ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
        """;

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT d.device_id, d.seq, d.clip_id, d.keyword, d.model_version,
                   (SELECT a.frame FROM clips a WHERE a.device_id = d.device_id AND a.clip_id = d.clip_id AND a.kind = 'audio' LIMIT 1), d.score
            FROM detections d
            WHERE d.clip_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.device_id = d.device_id AND l.seq = d.seq)
              AND NOT EXISTS (SELECT 1 FROM review_entries r WHERE r.device_id = d.device_id AND r.seq = d.seq)
              AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = d.device_id AND c.clip_id = d.clip_id
                          AND (c.kind = 'audio' OR c.received_utc_ms < $2))
            ORDER BY d.received_utc_ms, d.device_id COLLATE "C", d.seq LIMIT $1
            """, db);
        cmd.Parameters.Add(Limit(limit));
        cmd.Parameters.Add(P(featureOnlyReceivedBeforeUtc.ToUnixTimeMilliseconds()));
        return ReadClipWork(cmd, nearMiss: false);
    }

    // Trigger clips (detections) and near-miss clips: columns device_id, seq, clip_id, keyword, model_version, audio frame, score.
    private static List<TriggerClipWork> ReadClipWork(NpgsqlCommand cmd, bool nearMiss)
    {
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<TriggerClipWork>();
        while (r.Read())
        {
            list.Add(new TriggerClipWork(r.GetString(0), r.GetInt64(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4),
                r.IsDBNull(5) ? null : (byte[])r.GetValue(5), r.GetDouble(6), nearMiss));
        }
        return list;
    }

    /// <inheritdoc />
    public string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId)
    {
        ArgumentNullException.ThrowIfNull(label);
        if ((MonitoringValues.RefuseLabel(label) ?? LabelingValues.RefuseProvenance(provenance)) is { } refused)
        {
            return refused;
        }
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        // Locks the detection row: a concurrent decision on the same detection waits.
        if (!Exists(db, tx, label.DeviceId, label.Sequence))
        {
            return MonitoringValues.NoDetection(label);
        }
        long ms = label.LabeledUtc.ToUnixTimeMilliseconds();
        UpsertLabel(db, tx, label.DeviceId, label.Sequence, label.Label, label.Source, ms, provenance);
        if (label.Label == DetectionLabelKind.Unknown)
        {
            Run(db, tx,
                """
                INSERT INTO review_entries (device_id, seq, clip_id, reason, candidate, confidence, tool, queued_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (device_id, seq) DO UPDATE SET clip_id = excluded.clip_id, reason = excluded.reason, candidate = excluded.candidate,
                    confidence = excluded.confidence, tool = excluded.tool, queued_utc_ms = excluded.queued_utc_ms, decision = NULL, reviewer = NULL, decided_utc_ms = NULL
                """,
                P(label.DeviceId), P(label.Sequence), P(clipId), P(LabelingValues.Cut(reviewReason ?? "queued for review")), P(candidate.ToString()),
                PD(provenance.Confidence), P(provenance.Tool), P(ms));
        }
        tx.Commit();
        return null;
    }

    private static bool Exists(NpgsqlConnection db, NpgsqlTransaction tx, string deviceId, long seq)
    {
        using var cmd = new NpgsqlCommand("SELECT count(*) FROM (SELECT 1 FROM detections WHERE device_id = $1 AND seq = $2 FOR UPDATE) x", db, tx);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(seq));
        return (long)cmd.ExecuteScalar()! > 0;
    }

    private static void UpsertLabel(NpgsqlConnection db, NpgsqlTransaction tx, string deviceId, long seq, DetectionLabelKind label, string source, long ms, LabelProvenance p)
    {
        Run(db, tx,
            """
            INSERT INTO labels (device_id, seq, label, source, labeled_utc_ms) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (device_id, seq) DO UPDATE SET label = excluded.label, source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
            """, P(deviceId), P(seq), P(label.ToString()), P(source), P(ms));
        Run(db, tx,
            """
            INSERT INTO label_provenance (device_id, seq, kind, tool, confidence, reviewer, source, labeled_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (device_id, seq) DO UPDATE SET kind = excluded.kind, tool = excluded.tool, confidence = excluded.confidence, reviewer = excluded.reviewer,
                source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
            """, P(deviceId), P(seq), P(p.Kind), P(p.Tool), PD(p.Confidence), P(p.Reviewer), P(source), P(ms));
    }

    /// <inheritdoc />
    public IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT l.device_id, l.seq, coalesce(r.clip_id, d.clip_id),
                   EXISTS (SELECT 1 FROM clips a WHERE a.device_id = l.device_id AND a.clip_id = coalesce(r.clip_id, d.clip_id) AND a.kind = 'audio'),
                   r.reason, r.candidate, r.confidence, l.source, r.tool, coalesce(r.queued_utc_ms, l.labeled_utc_ms) AS queued
            FROM labels l
            JOIN detections d ON d.device_id = l.device_id AND d.seq = l.seq
            LEFT JOIN review_entries r ON r.device_id = l.device_id AND r.seq = l.seq AND r.decision IS NULL
            WHERE l.label = 'Unknown'
            ORDER BY queued, l.device_id COLLATE "C", l.seq LIMIT $1
            """, db);
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<ReviewQueueEntry>();
        while (r.Read())
        {
            list.Add(new ReviewQueueEntry(r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetBoolean(3),
                r.IsDBNull(4) ? "labelled Unknown through the labels API" : r.GetString(4),
                r.IsDBNull(5) ? DetectionLabelKind.Unknown : Enum.Parse<DetectionLabelKind>(r.GetString(5)), r.IsDBNull(6) ? null : r.GetDouble(6),
                r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9))));
        }
        return list;
    }

    /// <inheritdoc />
    public string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingValues.RefuseDecision(label) ?? LabelingValues.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        string? current;
        using (var cmd = new NpgsqlCommand("SELECT label FROM labels WHERE device_id = $1 AND seq = $2 FOR UPDATE", db, tx))
        {
            cmd.Parameters.Add(P(deviceId));
            cmd.Parameters.Add(P(sequence));
            current = cmd.ExecuteScalar() as string;
        }
        if (current != nameof(DetectionLabelKind.Unknown))
        {
            return $"detection ({deviceId}, {sequence}) is not in the review queue" + (current is null ? string.Empty : $" (its label is {current})");
        }
        long ms = nowUtc.ToUnixTimeMilliseconds();
        UpsertLabel(db, tx, deviceId, sequence, label, LabelingValues.ReviewSource(reviewer), ms,
            new LabelProvenance(LabelProvenanceKinds.Review, LabelProvenanceKinds.Review, null, reviewer));
        Run(db, tx, "UPDATE review_entries SET decision = $1, reviewer = $2, decided_utc_ms = $3 WHERE device_id = $4 AND seq = $5 AND decision IS NULL",
            P(label.ToString()), P(reviewer), P(ms), P(deviceId), P(sequence));
        tx.Commit();
        return null;
    }

    /// <inheritdoc />
    public byte[]? ReadClipAudio(string deviceId, string clipId)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT frame FROM clips WHERE device_id = $1 AND clip_id = $2 AND kind = 'audio' LIMIT 1", db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(clipId));
        return cmd.ExecuteScalar() as byte[];
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit) =>
        QueryProvenance(ProvenanceSelect + """
             WHERE ($1 IS NULL OR l.device_id = $1) ORDER BY l.labeled_utc_ms DESC, l.device_id COLLATE "C", l.seq LIMIT $2
            """, P(deviceId), Limit(limit));

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed) =>
        LabelingValues.Sample(QueryProvenance(ProvenanceSelect + """
             WHERE l.label IN ('TrueAccept', 'FalseAccept') AND (p.reviewer IS NULL OR p.reviewer <> $1)
               AND NOT EXISTS (SELECT 1 FROM label_audits a WHERE a.device_id = l.device_id AND a.seq = l.seq AND a.reviewer = $1)
             ORDER BY l.device_id COLLATE "C", l.seq LIMIT 100000
            """, P(reviewer)), count, seed);

    private List<LabelWithProvenance> QueryProvenance(string sql, params NpgsqlParameter[] parameters)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(sql, db);
        cmd.Parameters.AddRange(parameters);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<LabelWithProvenance>();
        while (r.Read())
        {
            list.Add(new LabelWithProvenance(
                new DetectionLabel(r.GetString(0), r.GetInt64(1), Enum.Parse<DetectionLabelKind>(r.GetString(2)), r.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4))),
                r.IsDBNull(5) ? null : new LabelProvenance(r.GetString(5), r.IsDBNull(6) ? string.Empty : r.GetString(6), r.IsDBNull(7) ? null : r.GetDouble(7), r.IsDBNull(8) ? null : r.GetString(8))));
        }
        return list;
    }

    /// <inheritdoc />
    public string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingValues.RefuseDecision(label) ?? LabelingValues.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        List<LabelWithProvenance> rows = QueryProvenance(ProvenanceSelect + " WHERE l.device_id = $1 AND l.seq = $2", P(deviceId), P(sequence));
        if (rows.Count == 0 || rows[0].Label.Label == DetectionLabelKind.Unknown)
        {
            return $"detection ({deviceId}, {sequence}) has no decided label to re-review";
        }
        if (rows[0].Provenance?.Reviewer == reviewer)
        {
            return $"'{reviewer}' decided this label; a re-review must be by someone else";
        }
        using NpgsqlConnection db = Connection();
        Run(db, null, "INSERT INTO label_audits (device_id, seq, reviewer, label, first_label, first_kind, audited_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            P(deviceId), P(sequence), P(reviewer), P(label.ToString()), P(rows[0].Label.Label.ToString()), P(rows[0].Provenance?.Kind), P(nowUtc.ToUnixTimeMilliseconds()));
        return null;
    }

    /// <inheritdoc />
    public AgreementCounts ReadAgreement()
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT first_kind, count(*), sum(CASE WHEN label = first_label THEN 1 ELSE 0 END) FROM label_audits GROUP BY first_kind", db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var by = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        while (r.Read())
        {
            by[LabelingValues.KindOf(r.IsDBNull(0) ? null : r.GetString(0))] = (r.GetInt64(1), r.GetInt64(2));
        }
        return new AgreementCounts(by.Values.Sum(v => v.Item1), by.Values.Sum(v => v.Item2), by);
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT l.device_id, l.seq, l.label, l.source, l.labeled_utc_ms, p.kind, p.tool, p.confidence, p.reviewer, d.clip_id, d.keyword, a.frame
            FROM labels l
            JOIN detections d ON d.device_id = l.device_id AND d.seq = l.seq
            JOIN clips a ON a.device_id = d.device_id AND a.clip_id = d.clip_id AND a.kind = 'audio'
            LEFT JOIN label_provenance p ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
            WHERE l.label IN ('TrueAccept', 'FalseAccept') AND (l.device_id COLLATE "C" > $1 OR (l.device_id = $1 AND l.seq > $2))
            ORDER BY l.device_id COLLATE "C", l.seq LIMIT $3
            """, db);
        cmd.Parameters.Add(P(afterDeviceId));
        cmd.Parameters.Add(P(afterSequence));
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<LabelledClip>();
        while (r.Read())
        {
            list.Add(new LabelledClip(
                new DetectionLabel(r.GetString(0), r.GetInt64(1), Enum.Parse<DetectionLabelKind>(r.GetString(2)), r.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4))),
                r.IsDBNull(5) ? null : new LabelProvenance(r.GetString(5), r.IsDBNull(6) ? string.Empty : r.GetString(6), r.IsDBNull(7) ? null : r.GetDouble(7), r.IsDBNull(8) ? null : r.GetString(8)),
                r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10), (byte[])r.GetValue(11)));
        }
        return list;
    }

    // Erasure (inside EraseDevice's transaction): the device's label provenance, review entries and re-reviews go with its labels.
    private static void EraseLabelingRows(NpgsqlConnection db, NpgsqlTransaction tx, string deviceId)
    {
        Run(db, tx, "DELETE FROM label_provenance WHERE device_id = $1", P(deviceId));
        Run(db, tx, "DELETE FROM review_entries WHERE device_id = $1", P(deviceId));
        Run(db, tx, "DELETE FROM label_audits WHERE device_id = $1", P(deviceId));
    }

    private static NpgsqlParameter PD(double? value) => new() { NpgsqlDbType = NpgsqlDbType.Double, Value = value is { } v ? v : DBNull.Value };
}
