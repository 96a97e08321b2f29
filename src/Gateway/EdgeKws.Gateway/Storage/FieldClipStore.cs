namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Field clips over either database: the one implementation of <see cref="IFieldClipStore"/>, which <see cref="SqliteGatewayStore"/>
/// and <see cref="PostgresGatewayStore"/> delegate to. No schema of its own (it reads detections, labels, label provenance, near
/// misses and clips), so no DDL step. <see cref="StoreDialect"/> supplies <see cref="StoreDialect.BinaryOrder"/> and
/// <see cref="StoreDialect.Limit"/>.
/// </summary>
internal sealed class FieldClipStore : IFieldClipStore
{
    private readonly IStoreConnections _db;
    private readonly string _readSql;

    public FieldClipStore(IStoreConnections db)
    {
        _db = db;
        // The page key (device, sequence) compares and orders device ids by code point on both databases (PostgreSQL: COLLATE "C",
        // as its store always did; SQLite: BINARY), so paging never skips or repeats a device whatever the database's locale.
        string c = db.Dialect.BinaryOrder;
        _readSql =
            $"""
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
            WHERE (x.device_id{c} > $1 OR (x.device_id = $1 AND x.seq > $2))
              AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = x.device_id AND c.clip_id = x.clip_id)
            ORDER BY x.device_id{c}, x.seq LIMIT $3
            """;
    }

    /// <inheritdoc />
    public IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit) =>
        _db.Read(s => s.Query(_readSql,
            r => new FieldClip(r.GetString(0), r.GetString(1), r.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.GetInt64(5), r.GetDouble(6), r.GetStringOrNull(7), r.GetString(8), r.GetString(9),
                Enum.Parse<DetectionLabelKind>(r.GetString(10)), r.GetStringOrNull(11) ?? string.Empty, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(12)),
                r.GetStringOrNull(13) is { } k ? new LabelProvenance(k, r.GetStringOrNull(14) ?? string.Empty, r.IsNull(15) ? null : r.GetDouble(15), r.GetStringOrNull(16)) : null,
                // Never NULL: clips.frame is NOT NULL, and the EXISTS above finds the clip, which is audio or features.
                r.GetBytes(17) ?? [], r.GetBoolean(18)),
            afterDeviceId, afterSequence, s.Dialect.Limit(limit)));
}
