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
    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT n.device_id, n.seq, n.device_time_utc_ms, n.received_utc_ms, n.stream_offset_ms, n.score, n.threshold, n.band_floor, n.keyword, n.model_version,
                   n.clip_id, EXISTS (SELECT 1 FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio'),
                   n.label, n.label_candidate, n.label_kind, n.label_tool, n.label_confidence, n.review_reason, n.labeled_utc_ms
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
                S(14) is { } k ? new LabelProvenance(k, S(15) ?? string.Empty, r.IsDBNull(16) ? null : r.GetDouble(16), null) : null, S(17),
                r.IsDBNull(18) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(18))));
        }
        return list;
    }

    // Erasure (inside EraseDevice's transaction): a device's near misses go with its detections.
    private static void EraseNearMissRows(NpgsqlConnection db, NpgsqlTransaction tx, string deviceId) =>
        Run(db, tx, "DELETE FROM near_misses WHERE device_id = $1", P(deviceId));
}
