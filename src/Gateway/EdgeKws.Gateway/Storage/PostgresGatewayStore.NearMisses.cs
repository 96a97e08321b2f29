using EdgeKws.Gateway.Ingest;
using EdgeKws.Shared.Contracts;
using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>Near misses in the PostgreSQL store (schema version 8; same table and rules as <see cref="SqliteGatewayStore"/>).</summary>
public sealed partial class PostgresGatewayStore
{
    private static readonly string[] NearMissDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS near_misses (
            device_id            text NOT NULL,
            seq                  bigint NOT NULL,
            device_time_utc_ms   bigint NOT NULL,
            received_utc_ms      bigint NOT NULL,
            stream_offset_ms     bigint NOT NULL,
            score                double precision NOT NULL,
            threshold            double precision NOT NULL,
            band_floor           double precision NOT NULL,
            keyword              text,
            model_version        text NOT NULL,
            feature_config_hash  text NOT NULL,
            clip_id              text,
            label                text,
            label_candidate      text,
            label_kind           text,
            label_tool           text,
            label_confidence     double precision,
            label_source         text,
            review_reason        text,
            labeled_utc_ms       bigint,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS near_misses_clip ON near_misses (device_id, clip_id)",
        "CREATE INDEX IF NOT EXISTS near_misses_time ON near_misses (device_time_utc_ms)",
    ];

    private static NpgsqlBatchCommand InsertNearMissCommand(ValidMessage m, in StoreWrite w, byte[] digest, long now, NearMissReport n)
    {
        var cmd = new NpgsqlBatchCommand(LedgerCte
            + "t AS (INSERT INTO near_misses (device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, threshold, band_floor, keyword, model_version, feature_config_hash, clip_id) "
            + "SELECT $1, $2, $6, $5, $7, $8, $9, $10, $11, $12, $13, $14" + LedgerTail);
        Add(cmd, m, w, digest, now, P(n.DeviceTimeUtc.ToUnixTimeMilliseconds()), P(n.StreamOffsetMs), P((double)n.Score), P((double)n.Threshold),
            P((double)n.BandFloor), P(n.Keyword), P(n.ModelVersion), P(n.FeatureConfigHash), P(n.ClipId?.ToString("D")));
        return cmd;
    }

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT n.device_id, n.seq, n.clip_id, n.keyword, n.model_version,
                   (SELECT a.frame FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio' LIMIT 1), n.score
            FROM near_misses n
            WHERE n.clip_id IS NOT NULL AND n.label IS NULL
              AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = n.device_id AND c.clip_id = n.clip_id
                          AND (c.kind = 'audio' OR c.received_utc_ms < $2))
            ORDER BY n.received_utc_ms, n.device_id COLLATE "C", n.seq LIMIT $1
            """, db);
        cmd.Parameters.Add(Limit(limit));
        cmd.Parameters.Add(P(featureOnlyReceivedBeforeUtc.ToUnixTimeMilliseconds()));
        return ReadClipWork(cmd, nearMiss: true);
    }

    /// <inheritdoc />
    public string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc)
    {
        if (LabelingValues.RefuseProvenance(provenance) is { } refused)
        {
            return refused;
        }
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            UPDATE near_misses SET label = $1, label_candidate = $2, label_kind = $3, label_tool = $4, label_confidence = $5, label_source = $6, review_reason = $7,
                labeled_utc_ms = $8
            WHERE device_id = $9 AND seq = $10
            """, db);
        cmd.Parameters.Add(P(label.ToString()));
        cmd.Parameters.Add(P(label == DetectionLabelKind.Unknown ? candidate.ToString() : null));
        cmd.Parameters.Add(P(provenance.Kind));
        cmd.Parameters.Add(P(provenance.Tool));
        cmd.Parameters.Add(PD(provenance.Confidence));
        cmd.Parameters.Add(P(LabelingValues.AlignerSource(provenance.Tool)));
        cmd.Parameters.Add(P(reviewReason is null ? null : LabelingValues.Cut(reviewReason)));
        cmd.Parameters.Add(P(labeledUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(sequence));
        return cmd.ExecuteNonQuery() == 1 ? null : $"near miss ({deviceId}, {sequence}) is not stored";
    }

    /// <inheritdoc />
    public string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingValues.RefuseDecision(label) ?? LabelingValues.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        using NpgsqlConnection db = Connection();
        // Only a near miss waiting for review: the condition in the UPDATE itself (row-locked), so a concurrent label is never overwritten.
        using (var cmd = new NpgsqlCommand(
            """
            UPDATE near_misses SET label = $1, label_candidate = NULL, label_kind = $2, label_tool = $3, label_confidence = NULL, label_source = $4, labeled_utc_ms = $5
            WHERE device_id = $6 AND seq = $7 AND label = 'Unknown'
            """, db))
        {
            cmd.Parameters.Add(P(label.ToString()));
            cmd.Parameters.Add(P(LabelProvenanceKinds.Review));
            cmd.Parameters.Add(P(LabelProvenanceKinds.Review));
            cmd.Parameters.Add(P(LabelingValues.ReviewSource(reviewer)));
            cmd.Parameters.Add(P(nowUtc.ToUnixTimeMilliseconds()));
            cmd.Parameters.Add(P(deviceId));
            cmd.Parameters.Add(P(sequence));
            if (cmd.ExecuteNonQuery() == 1)
            {
                return null;
            }
        }
        using var current = new NpgsqlCommand("SELECT coalesce(label, 'no label yet') FROM near_misses WHERE device_id = $1 AND seq = $2", db);
        current.Parameters.Add(P(deviceId));
        current.Parameters.Add(P(sequence));
        return LabelingValues.NearMissNotQueued(deviceId, sequence, current.ExecuteScalar() as string);
    }

    /// <inheritdoc />
    public IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT x.kind, x.device_id, x.seq, x.device_time_utc_ms, x.received_utc_ms, x.stream_offset_ms, x.score, x.keyword, x.model_version, x.clip_id,
                   x.label, x.source, x.labeled_utc_ms, x.provenance_kind, x.tool, x.confidence, x.reviewer,
                   coalesce((SELECT a.frame FROM clips a WHERE a.device_id = x.device_id AND a.clip_id = x.clip_id AND a.kind = 'audio' LIMIT 1),
                            (SELECT f.frame FROM clips f WHERE f.device_id = x.device_id AND f.clip_id = x.clip_id AND f.kind = 'features' LIMIT 1)),
                   EXISTS (SELECT 1 FROM clips a WHERE a.device_id = x.device_id AND a.clip_id = x.clip_id AND a.kind = 'audio')
            FROM (
                SELECT 'trigger' AS kind, d.device_id, d.seq, d.device_time_utc_ms, d.received_utc_ms, d.stream_offset_ms, d.score, d.keyword, d.model_version, d.clip_id,
                       l.label, l.source, l.labeled_utc_ms, p.kind AS provenance_kind, p.tool, p.confidence, p.reviewer
                FROM detections d
                JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
                LEFT JOIN label_provenance p ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
                WHERE d.clip_id IS NOT NULL AND l.label IN ('TrueAccept', 'FalseAccept')
                UNION ALL
                SELECT 'nearMiss', n.device_id, n.seq, n.device_time_utc_ms, n.received_utc_ms, n.stream_offset_ms, n.score, n.keyword, n.model_version, n.clip_id,
                       n.label, n.label_source, n.labeled_utc_ms, n.label_kind, n.label_tool, n.label_confidence,
                       CASE WHEN n.label_kind = 'review' AND n.label_source LIKE 'review:%' THEN substr(n.label_source, 8) END
                FROM near_misses n
                WHERE n.clip_id IS NOT NULL AND n.label IN ('TrueAccept', 'FalseAccept')
            ) x
            WHERE (x.device_id COLLATE "C" > $1 OR (x.device_id = $1 AND x.seq > $2))
              AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = x.device_id AND c.clip_id = x.clip_id)
            ORDER BY x.device_id COLLATE "C", x.seq LIMIT $3
            """, db);
        cmd.Parameters.Add(P(afterDeviceId));
        cmd.Parameters.Add(P(afterSequence));
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<FieldClip>();
        while (r.Read())
        {
            string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
            list.Add(new FieldClip(r.GetString(0), r.GetString(1), r.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.GetInt64(5), r.GetDouble(6), S(7), r.GetString(8), r.GetString(9),
                Enum.Parse<DetectionLabelKind>(r.GetString(10)), S(11) ?? string.Empty, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(12)),
                S(13) is { } k ? new LabelProvenance(k, S(14) ?? string.Empty, r.IsDBNull(15) ? null : r.GetDouble(15), S(16)) : null,
                (byte[])r.GetValue(17), r.GetBoolean(18)));
        }
        return list;
    }

    /// <inheritdoc />
    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT n.device_id, n.seq, n.device_time_utc_ms, n.received_utc_ms, n.stream_offset_ms, n.score, n.threshold, n.band_floor, n.keyword, n.model_version,
                   n.clip_id, EXISTS (SELECT 1 FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio'),
                   n.label, n.label_candidate, n.label_kind, n.label_tool, n.label_confidence, n.review_reason, n.labeled_utc_ms,
                   CASE WHEN n.label_kind = 'review' AND n.label_source LIKE 'review:%' THEN substr(n.label_source, 8) END
            FROM near_misses n WHERE ($1::text IS NULL OR n.device_id = $1)
            ORDER BY n.device_time_utc_ms DESC, n.device_id COLLATE "C", n.seq DESC LIMIT $2
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<NearMissRecord>();
        while (r.Read())
        {
            string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
            list.Add(new NearMissRecord(r.GetString(0), r.GetInt64(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), r.GetInt64(4), r.GetDouble(5), r.GetDouble(6), r.GetDouble(7), S(8), r.GetString(9),
                S(10), r.GetBoolean(11), S(12) is { } l ? Enum.Parse<DetectionLabelKind>(l) : null, S(13) is { } c ? Enum.Parse<DetectionLabelKind>(c) : null,
                S(14) is { } k ? new LabelProvenance(k, S(15) ?? string.Empty, r.IsDBNull(16) ? null : r.GetDouble(16), S(19)) : null, S(17),
                r.IsDBNull(18) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(18))));
        }
        return list;
    }

    // Erasure (inside EraseDevice's transaction): a device's near misses go with its detections.
    private static void EraseNearMissRows(NpgsqlConnection db, NpgsqlTransaction tx, string deviceId) =>
        Run(db, tx, "DELETE FROM near_misses WHERE device_id = $1", P(deviceId));
}
