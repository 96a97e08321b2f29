namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Detections with their labels, and the review queue's size, over either database (schema step 2: the <c>labels</c> table): the
/// one implementation of <see cref="IDetectionLabelStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/>
/// delegate to. SQL is written once; <see cref="StoreDialect"/> supplies the DDL types, <see cref="StoreDialect.BinaryOrder"/> and
/// <see cref="StoreDialect.Limit"/>. The argument rules are <see cref="MonitoringArgumentRules"/> (shared with <see cref="LabelingStore"/>).
/// </summary>
internal sealed class DetectionLabelStore : IDetectionLabelStore
{
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

    public DetectionLabelStore(IStoreConnections db)
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
    }

    /// <summary>The labels part of schema step 2 (version 1 -> 2, with <see cref="MonitoringStore.Ddl"/> and <see cref="AlertStore.Ddl"/>),
    /// each statement idempotent.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
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
    ];

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
}
