namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Near misses (schema version 8) over either database: the one implementation of <see cref="INearMissStore"/>, which
/// <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. SQL and logic are written once;
/// <see cref="StoreDialect"/> supplies the differences (only <see cref="StoreDialect.BinaryOrder"/> and <see cref="StoreDialect.Limit"/>
/// here). The ingest of a near miss stays with the batch write (<c>WriteBatch</c>), which is still written per database.
/// </summary>
internal sealed class NearMissStore : INearMissStore
{
    private readonly IStoreConnections _db;
    private readonly string _readUnlabelledSql;
    private readonly string _readNearMissesSql;

    public NearMissStore(IStoreConnections db)
    {
        _db = db;
        // Device ids order by code point on both databases (PostgreSQL: COLLATE "C", as its store always did; SQLite: BINARY).
        string c = db.Dialect.BinaryOrder;
        _readUnlabelledSql =
            $"""
            SELECT n.device_id, n.seq, n.clip_id, n.keyword, n.model_version,
                   (SELECT a.frame FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio' LIMIT 1), n.score
            FROM near_misses n
            WHERE n.clip_id IS NOT NULL AND n.label IS NULL
              AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = n.device_id AND c.clip_id = n.clip_id
                          AND (c.kind = 'audio' OR c.received_utc_ms < $2))
            ORDER BY n.received_utc_ms, n.device_id{c}, n.seq LIMIT $1
            """;
        // ($1 IS NULL ...): PostgreSQL's store wrote $1::text; the argument is typed text (StoreArg), so the cast is not needed.
        _readNearMissesSql =
            $"""
            SELECT n.device_id, n.seq, n.device_time_utc_ms, n.received_utc_ms, n.stream_offset_ms, n.score, n.threshold, n.band_floor, n.keyword, n.model_version,
                   n.clip_id, EXISTS (SELECT 1 FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio'),
                   n.label, n.label_candidate, n.label_kind, n.label_tool, n.label_confidence, n.review_reason, n.labeled_utc_ms,
                   CASE WHEN n.label_kind = 'review' AND n.label_source LIKE 'review:%' THEN substr(n.label_source, 8) END
            FROM near_misses n WHERE ($1 IS NULL OR n.device_id = $1)
            ORDER BY n.device_time_utc_ms DESC, n.device_id{c}, n.seq DESC LIMIT $2
            """;
    }

    /// <summary>Schema version 8: near misses in a table of their own (never in detections, so FA/hour and detection counts cannot
    /// see them), with the labeling worker's label on the row. Run once by each store's migration, in order with the other steps.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS near_misses (
            device_id            {d.Text} NOT NULL,
            seq                  {d.Int64} NOT NULL,
            device_time_utc_ms   {d.Int64} NOT NULL,
            received_utc_ms      {d.Int64} NOT NULL,
            stream_offset_ms     {d.Int64} NOT NULL,
            score                {d.Real} NOT NULL,
            threshold            {d.Real} NOT NULL,
            band_floor           {d.Real} NOT NULL,
            keyword              {d.Text},
            model_version        {d.Text} NOT NULL,
            feature_config_hash  {d.Text} NOT NULL,
            clip_id              {d.Text},
            label                {d.Text},
            label_candidate      {d.Text},
            label_kind           {d.Text},
            label_tool           {d.Text},
            label_confidence     {d.Real},
            label_source         {d.Text},
            review_reason        {d.Text},
            labeled_utc_ms       {d.Int64},
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS near_misses_clip ON near_misses (device_id, clip_id)",
        "CREATE INDEX IF NOT EXISTS near_misses_time ON near_misses (device_time_utc_ms)",
    ];

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        _db.Read(s => s.Query(_readUnlabelledSql,
            r => new TriggerClipWork(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetStringOrNull(3), r.GetString(4), r.GetBytes(5), r.GetDouble(6), NearMiss: true),
            s.Dialect.Limit(limit), featureOnlyReceivedBeforeUtc.ToUnixTimeMilliseconds()));

    /// <inheritdoc />
    public string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc)
    {
        if (LabelingArgumentRules.RefuseProvenance(provenance) is { } refused)
        {
            return refused;
        }
        int n = _db.Write(s => s.Execute(
            """
            UPDATE near_misses SET label = $1, label_candidate = $2, label_kind = $3, label_tool = $4, label_confidence = $5, label_source = $6, review_reason = $7,
                labeled_utc_ms = $8
            WHERE device_id = $9 AND seq = $10
            """,
            label.ToString(), label == DetectionLabelKind.Unknown ? candidate.ToString() : null, provenance.Kind, provenance.Tool, provenance.Confidence,
            LabelSources.Aligner(provenance.Tool), reviewReason is null ? null : LabelingArgumentRules.Cut(reviewReason), labeledUtc.ToUnixTimeMilliseconds(),
            deviceId, sequence));
        return n == 1 ? null : $"near miss ({deviceId}, {sequence}) is not stored";
    }

    /// <inheritdoc />
    public string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingArgumentRules.RefuseDecision(label) ?? LabelingArgumentRules.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        // Both statements on one connection, no transaction (as both stores always did; SQLite: the writer, under its lock).
        return _db.Write(s =>
        {
            // Only a near miss waiting for review: the condition in the UPDATE itself (row-locked on PostgreSQL), so a worker's label
            // written meanwhile is never overwritten.
            int n = s.Execute(
                """
                UPDATE near_misses SET label = $1, label_candidate = NULL, label_kind = $2, label_tool = $3, label_confidence = NULL, label_source = $4, labeled_utc_ms = $5
                WHERE device_id = $6 AND seq = $7 AND label = 'Unknown'
                """,
                label.ToString(), LabelProvenanceKinds.Review, LabelProvenanceKinds.Review, LabelSources.Review(reviewer), nowUtc.ToUnixTimeMilliseconds(),
                deviceId, sequence);
            if (n == 1)
            {
                return null;
            }
            string? current = s.Query("SELECT coalesce(label, 'no label yet') FROM near_misses WHERE device_id = $1 AND seq = $2", r => r.GetString(0), deviceId, sequence)
                .FirstOrDefault();
            return LabelingArgumentRules.NearMissNotQueued(deviceId, sequence, current);
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit) =>
        _db.Read(s => s.Query(_readNearMissesSql,
            r => new NearMissRecord(r.GetString(0), r.GetInt64(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)),
                DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)), r.GetInt64(4), r.GetDouble(5), r.GetDouble(6), r.GetDouble(7), r.GetStringOrNull(8), r.GetString(9),
                r.GetStringOrNull(10), r.GetBoolean(11),
                r.GetStringOrNull(12) is { } l ? Enum.Parse<DetectionLabelKind>(l) : null,
                r.GetStringOrNull(13) is { } c ? Enum.Parse<DetectionLabelKind>(c) : null,
                r.GetStringOrNull(14) is { } k ? new LabelProvenance(k, r.GetStringOrNull(15) ?? string.Empty, r.IsNull(16) ? null : r.GetDouble(16), r.GetStringOrNull(19)) : null,
                r.GetStringOrNull(17),
                r.IsNull(18) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(18))),
            deviceId, s.Dialect.Limit(limit)));

    /// <summary>Erasure, inside <see cref="GovernanceStore.EraseDevice"/>'s transaction on its session: a device's near misses go with
    /// its detections.</summary>
    public void EraseDeviceRows(StoreSession s, string deviceId) => s.Execute("DELETE FROM near_misses WHERE device_id = $1", deviceId);
}
