namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Labeling of trigger clips (schema step 4: label provenance, review entries, re-review audits) over either database: the one
/// implementation of <see cref="ILabelingStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/>
/// delegate to. SQL and logic are written once; <see cref="StoreDialect"/> supplies the differences (<see cref="StoreDialect.BinaryOrder"/>,
/// <see cref="StoreDialect.Limit"/>, <see cref="StoreDialect.ForUpdate"/>).
/// </summary>
internal sealed class LabelingStore : ILabelingStore
{
    // A label row joined with its provenance (null columns when the label predates provenance); columns 0..8 as MapProvenance reads them.
    private const string ProvenanceSelect =
        """
        SELECT l.device_id, l.seq, l.label, l.source, l.labeled_utc_ms, p.kind, p.tool, p.confidence, p.reviewer
        FROM labels l LEFT JOIN label_provenance p
          ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
        """;

    private readonly IStoreConnections _db;
    private readonly string _readUnlabelledSql;
    private readonly string _detectionExistsSql;
    private readonly string _readReviewQueueSql;
    private readonly string _currentLabelSql;
    private readonly string _readLabelsSql;
    private readonly string _sampleSql;
    private readonly string _readLabelledClipsSql;

    public LabelingStore(IStoreConnections db)
    {
        _db = db;
        // Device ids order (and compare, for the keyset pages) by code point on both databases: PostgreSQL's store always wrote
        // COLLATE "C", SQLite's BINARY collation already does.
        string c = db.Dialect.BinaryOrder;
        // Row locks inside the write transactions: PostgreSQL's store always read these rows FOR UPDATE; SQLite's BEGIN IMMEDIATE on
        // the one writer connection already holds the database's write lock (so the SELECT has no FOR UPDATE there).
        string forUpdate = db.Dialect.ForUpdate;
        _readUnlabelledSql =
            $"""
            SELECT d.device_id, d.seq, d.clip_id, d.keyword, d.model_version,
                   (SELECT a.frame FROM clips a WHERE a.device_id = d.device_id AND a.clip_id = d.clip_id AND a.kind = 'audio' LIMIT 1), d.score
            FROM detections d
            WHERE d.clip_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.device_id = d.device_id AND l.seq = d.seq)
              AND NOT EXISTS (SELECT 1 FROM review_entries r WHERE r.device_id = d.device_id AND r.seq = d.seq)
              AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = d.device_id AND c.clip_id = d.clip_id
                          AND (c.kind = 'audio' OR c.received_utc_ms < $2))
            ORDER BY d.received_utc_ms, d.device_id{c}, d.seq LIMIT $1
            """;
        // SQLite's store counted the rows directly (SELECT COUNT(*) FROM detections WHERE ...); the same count through the subquery
        // PostgreSQL needs for FOR UPDATE (an aggregate cannot lock rows).
        _detectionExistsSql = $"SELECT count(*) FROM (SELECT 1 FROM detections WHERE device_id = $1 AND seq = $2{forUpdate}) x";
        _readReviewQueueSql =
            $"""
            SELECT l.device_id, l.seq, coalesce(r.clip_id, d.clip_id),
                   EXISTS (SELECT 1 FROM clips a WHERE a.device_id = l.device_id AND a.clip_id = coalesce(r.clip_id, d.clip_id) AND a.kind = 'audio'),
                   r.reason, r.candidate, r.confidence, l.source, r.tool, coalesce(r.queued_utc_ms, l.labeled_utc_ms) AS queued
            FROM labels l
            JOIN detections d ON d.device_id = l.device_id AND d.seq = l.seq
            LEFT JOIN review_entries r ON r.device_id = l.device_id AND r.seq = l.seq AND r.decision IS NULL
            WHERE l.label = 'Unknown'
            ORDER BY queued, l.device_id{c}, l.seq LIMIT $1
            """;
        _currentLabelSql = $"SELECT label FROM labels WHERE device_id = $1 AND seq = $2{forUpdate}";
        _readLabelsSql = ProvenanceSelect + $"\nWHERE ($1 IS NULL OR l.device_id = $1) ORDER BY l.labeled_utc_ms DESC, l.device_id{c}, l.seq LIMIT $2";
        // At most 100 000 candidates (SQLite's store bound the same number as an argument).
        _sampleSql = ProvenanceSelect + "\n" +
            $"""
            WHERE l.label IN ('TrueAccept', 'FalseAccept') AND (p.reviewer IS NULL OR p.reviewer <> $1)
              AND NOT EXISTS (SELECT 1 FROM label_audits a WHERE a.device_id = l.device_id AND a.seq = l.seq AND a.reviewer = $1)
            ORDER BY l.device_id{c}, l.seq LIMIT 100000
            """;
        _readLabelledClipsSql =
            $"""
            SELECT l.device_id, l.seq, l.label, l.source, l.labeled_utc_ms, p.kind, p.tool, p.confidence, p.reviewer, d.clip_id, d.keyword, a.frame
            FROM labels l
            JOIN detections d ON d.device_id = l.device_id AND d.seq = l.seq
            JOIN clips a ON a.device_id = d.device_id AND a.clip_id = d.clip_id AND a.kind = 'audio'
            LEFT JOIN label_provenance p ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
            WHERE l.label IN ('TrueAccept', 'FalseAccept') AND (l.device_id{c} > $1 OR (l.device_id = $1 AND l.seq > $2))
            ORDER BY l.device_id{c}, l.seq LIMIT $3
            """;
    }

    /// <summary>Schema version 4 (run once by each store's migration, in order with the other concerns' steps).</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        // Provenance of the current label of a detection; valid while labeled_utc_ms and source equal the label's (a later
        // POST /api/labels replaces the label without provenance, and the stale row is then ignored).
        $"""
        CREATE TABLE IF NOT EXISTS label_provenance (
            device_id        {d.Text} NOT NULL,
            seq              {d.Int64} NOT NULL,
            kind             {d.Text} NOT NULL,
            tool             {d.Text} NOT NULL,
            confidence       {d.Real},
            reviewer         {d.Text},
            source           {d.Text} NOT NULL,
            labeled_utc_ms   {d.Int64} NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        // Why the worker queued a detection, what it proposed, and the person's decision (kept after the decision).
        $"""
        CREATE TABLE IF NOT EXISTS review_entries (
            device_id        {d.Text} NOT NULL,
            seq              {d.Int64} NOT NULL,
            clip_id          {d.Text},
            reason           {d.Text} NOT NULL,
            candidate        {d.Text} NOT NULL,
            confidence       {d.Real},
            tool             {d.Text} NOT NULL,
            queued_utc_ms    {d.Int64} NOT NULL,
            decision         {d.Text},
            reviewer         {d.Text},
            decided_utc_ms   {d.Int64},
            PRIMARY KEY (device_id, seq)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS label_audits (
            id               {d.AutoIdPrimaryKey},
            device_id        {d.Text} NOT NULL,
            seq              {d.Int64} NOT NULL,
            reviewer         {d.Text} NOT NULL,
            label            {d.Text} NOT NULL,
            first_label      {d.Text} NOT NULL,
            first_kind       {d.Text},
            audited_utc_ms   {d.Int64} NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS detections_clip ON detections (device_id, clip_id)",
    ];

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        _db.Read(s => s.Query(_readUnlabelledSql,
            r => new TriggerClipWork(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetStringOrNull(3), r.GetString(4), r.GetBytes(5), r.GetDouble(6), NearMiss: false),
            s.Dialect.Limit(limit), featureOnlyReceivedBeforeUtc.ToUnixTimeMilliseconds()));

    /// <inheritdoc />
    public string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId)
    {
        ArgumentNullException.ThrowIfNull(label);
        if ((MonitoringArgumentRules.RefuseLabel(label) ?? LabelingArgumentRules.RefuseProvenance(provenance)) is { } refused)
        {
            return refused;
        }
        return _db.Write(s => s.InTransaction(() =>
        {
            // Locks the detection row (PostgreSQL): a concurrent decision on the same detection waits. An unknown detection ends the
            // transaction having written nothing (both stores rolled it back; committing it is the same).
            if (s.Query(_detectionExistsSql, r => r.GetInt64(0), label.DeviceId, label.Sequence)[0] == 0)
            {
                return MonitoringArgumentRules.NoDetection(label);
            }
            long ms = label.LabeledUtc.ToUnixTimeMilliseconds();
            UpsertLabel(s, label.DeviceId, label.Sequence, label.Label, label.Source, ms, provenance);
            if (label.Label == DetectionLabelKind.Unknown)
            {
                // SQLite's store wrote INSERT OR REPLACE (the whole row anew, so decision, reviewer and decided_utc_ms became NULL); this
                // upsert sets every column, the same row on both databases.
                s.Execute(
                    """
                    INSERT INTO review_entries (device_id, seq, clip_id, reason, candidate, confidence, tool, queued_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (device_id, seq) DO UPDATE SET clip_id = excluded.clip_id, reason = excluded.reason, candidate = excluded.candidate,
                        confidence = excluded.confidence, tool = excluded.tool, queued_utc_ms = excluded.queued_utc_ms, decision = NULL, reviewer = NULL, decided_utc_ms = NULL
                    """,
                    label.DeviceId, label.Sequence, clipId, LabelingArgumentRules.Cut(reviewReason ?? "queued for review"), candidate.ToString(), provenance.Confidence,
                    provenance.Tool, ms);
            }
            return (string?)null;
        }));
    }

    // SQLite's store wrote the provenance with INSERT OR REPLACE; this upsert sets every column of the row, the same row.
    private static void UpsertLabel(StoreSession s, string deviceId, long seq, DetectionLabelKind label, string source, long ms, LabelProvenance p)
    {
        s.Execute(
            """
            INSERT INTO labels (device_id, seq, label, source, labeled_utc_ms) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (device_id, seq) DO UPDATE SET label = excluded.label, source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
            """, deviceId, seq, label.ToString(), source, ms);
        s.Execute(
            """
            INSERT INTO label_provenance (device_id, seq, kind, tool, confidence, reviewer, source, labeled_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (device_id, seq) DO UPDATE SET kind = excluded.kind, tool = excluded.tool, confidence = excluded.confidence, reviewer = excluded.reviewer,
                source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
            """, deviceId, seq, p.Kind, p.Tool, p.Confidence, p.Reviewer, source, ms);
    }

    /// <inheritdoc />
    public IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit) =>
        _db.Read(s => s.Query(_readReviewQueueSql,
            r => new ReviewQueueEntry(r.GetString(0), r.GetInt64(1), r.GetStringOrNull(2), r.GetBoolean(3),
                r.GetStringOrNull(4) ?? "labelled Unknown through the labels API",
                r.GetStringOrNull(5) is { } candidate ? Enum.Parse<DetectionLabelKind>(candidate) : DetectionLabelKind.Unknown, r.IsNull(6) ? null : r.GetDouble(6),
                r.GetString(7), r.GetStringOrNull(8), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9))),
            s.Dialect.Limit(limit)));

    /// <inheritdoc />
    public string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingArgumentRules.RefuseDecision(label) ?? LabelingArgumentRules.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        return _db.Write(s => s.InTransaction(() =>
        {
            // Locks the label row (PostgreSQL). A detection not in the queue ends the transaction having written nothing (both stores
            // rolled it back; committing it is the same).
            string? current = s.Query(_currentLabelSql, r => r.GetString(0), deviceId, sequence).FirstOrDefault();
            if (current != nameof(DetectionLabelKind.Unknown))
            {
                return $"detection ({deviceId}, {sequence}) is not in the review queue" + (current is null ? string.Empty : $" (its label is {current})");
            }
            long ms = nowUtc.ToUnixTimeMilliseconds();
            UpsertLabel(s, deviceId, sequence, label, LabelSources.Review(reviewer), ms,
                new LabelProvenance(LabelProvenanceKinds.Review, LabelProvenanceKinds.Review, null, reviewer));
            s.Execute("UPDATE review_entries SET decision = $1, reviewer = $2, decided_utc_ms = $3 WHERE device_id = $4 AND seq = $5 AND decision IS NULL",
                label.ToString(), reviewer, ms, deviceId, sequence);
            return null;
        }));
    }

    /// <inheritdoc />
    public byte[]? ReadClipAudio(string deviceId, string clipId) =>
        _db.Read(s => s.Query("SELECT frame FROM clips WHERE device_id = $1 AND clip_id = $2 AND kind = 'audio' LIMIT 1", r => r.GetBytes(0), deviceId, clipId)
            .FirstOrDefault());

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit) =>
        _db.Read(s => s.Query(_readLabelsSql, MapProvenance, deviceId, s.Dialect.Limit(limit)));

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed) =>
        Sample(_db.Read(s => s.Query(_sampleSql, MapProvenance, reviewer)), count, seed);

    /// <inheritdoc />
    public string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingArgumentRules.RefuseDecision(label) ?? LabelingArgumentRules.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        // The read and the insert on one connection without a transaction, as both stores did (SQLite: the writer, under its lock;
        // PostgreSQL's store used two pooled connections, here it is one).
        return _db.Write(s =>
        {
            List<LabelWithProvenance> rows = s.Query(ProvenanceSelect + "\nWHERE l.device_id = $1 AND l.seq = $2", MapProvenance, deviceId, sequence);
            if (rows.Count == 0 || rows[0].Label.Label == DetectionLabelKind.Unknown)
            {
                return $"detection ({deviceId}, {sequence}) has no decided label to re-review";
            }
            if (rows[0].Provenance?.Reviewer == reviewer)
            {
                return $"'{reviewer}' decided this label; a re-review must be by someone else";
            }
            s.Execute("INSERT INTO label_audits (device_id, seq, reviewer, label, first_label, first_kind, audited_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                deviceId, sequence, reviewer, label.ToString(), rows[0].Label.Label.ToString(), rows[0].Provenance?.Kind, nowUtc.ToUnixTimeMilliseconds());
            return null;
        });
    }

    /// <inheritdoc />
    public AgreementCounts ReadAgreement()
    {
        // SQLite's store summed (label = first_label), a 0/1 integer there; the CASE is the same count on both databases. The first kinds
        // are "aligner", "review" or NULL ("other"), so no two groups share a key.
        List<(string Kind, long Compared, long Agreed)> rows = _db.Read(s => s.Query(
            "SELECT first_kind, count(*), sum(CASE WHEN label = first_label THEN 1 ELSE 0 END) FROM label_audits GROUP BY first_kind",
            r => (KindOf(r.GetStringOrNull(0)), r.GetInt64(1), r.GetInt64(2))));
        return new AgreementCounts(rows.Sum(r => r.Compared), rows.Sum(r => r.Agreed),
            rows.ToDictionary(r => r.Kind, r => (r.Compared, r.Agreed), StringComparer.Ordinal));
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit) =>
        _db.Read(s => s.Query(_readLabelledClipsSql,
            r => new LabelledClip(MapLabel(r), MapLabelProvenance(r), r.GetString(9), r.GetStringOrNull(10), r.GetBytes(11) ?? []),
            afterDeviceId, afterSequence, s.Dialect.Limit(limit)));

    /// <summary>Erasure, inside <see cref="GovernanceStore.EraseDevice"/>'s transaction on its session: the device's label provenance,
    /// review entries and re-reviews go with its labels.</summary>
    public void EraseDeviceRows(StoreSession s, string deviceId)
    {
        s.Execute("DELETE FROM label_provenance WHERE device_id = $1", deviceId);
        s.Execute("DELETE FROM review_entries WHERE device_id = $1", deviceId);
        s.Execute("DELETE FROM label_audits WHERE device_id = $1", deviceId);
    }

    private static LabelWithProvenance MapProvenance(StoreRow r) => new(MapLabel(r), MapLabelProvenance(r));

    private static DetectionLabel MapLabel(StoreRow r) =>
        new(r.GetString(0), r.GetInt64(1), Enum.Parse<DetectionLabelKind>(r.GetString(2)), r.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)));

    private static LabelProvenance? MapLabelProvenance(StoreRow r) =>
        r.GetStringOrNull(5) is { } kind ? new LabelProvenance(kind, r.GetStringOrNull(6) ?? string.Empty, r.IsNull(7) ? null : r.GetDouble(7), r.GetStringOrNull(8)) : null;

    /// <summary>The kind of a first label for the agreement breakdown.</summary>
    private static string KindOf(string? provenanceKind) => provenanceKind ?? "other";

    /// <summary>A seeded, reproducible sample.</summary>
    private static List<T> Sample<T>(List<T> all, int count, int seed)
    {
        var rng = new Random(seed);
        return [.. all.Select(x => (Key: rng.Next(), x)).OrderBy(t => t.Key).Take(count).Select(t => t.x)];
    }
}
