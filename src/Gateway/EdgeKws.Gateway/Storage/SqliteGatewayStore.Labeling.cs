namespace EdgeKws.Gateway.Storage;

/// <summary>Labeling tables of the SQLite store (schema step "labeling", see <see cref="IGatewayStore"/> labeling members).</summary>
public sealed partial class SqliteGatewayStore
{
    private static readonly string[] LabelingDdl =
    [
        // Provenance of the current label of a detection; valid while labeled_utc_ms and source equal the label's (a later
        // POST /api/labels replaces the label without provenance, and the stale row is then ignored).
        """
        CREATE TABLE IF NOT EXISTS label_provenance (
            device_id        TEXT NOT NULL,
            seq              INTEGER NOT NULL,
            kind             TEXT NOT NULL,
            tool             TEXT NOT NULL,
            confidence       REAL,
            reviewer         TEXT,
            source           TEXT NOT NULL,
            labeled_utc_ms   INTEGER NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        // Why the worker queued a detection, what it proposed, and the person's decision (kept after the decision).
        """
        CREATE TABLE IF NOT EXISTS review_entries (
            device_id        TEXT NOT NULL,
            seq              INTEGER NOT NULL,
            clip_id          TEXT,
            reason           TEXT NOT NULL,
            candidate        TEXT NOT NULL,
            confidence       REAL,
            tool             TEXT NOT NULL,
            queued_utc_ms    INTEGER NOT NULL,
            decision         TEXT,
            reviewer         TEXT,
            decided_utc_ms   INTEGER,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS label_audits (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            device_id        TEXT NOT NULL,
            seq              INTEGER NOT NULL,
            reviewer         TEXT NOT NULL,
            label            TEXT NOT NULL,
            first_label      TEXT NOT NULL,
            first_kind       TEXT,
            audited_utc_ms   INTEGER NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS detections_clip ON detections (device_id, clip_id)",
    ];

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<WorkRow>(
                    """
                    SELECT d.device_id AS DeviceId, d.seq AS Seq, d.clip_id AS ClipId, d.keyword AS Keyword, d.model_version AS ModelVersion, d.score AS Score,
                           (SELECT a.frame FROM clips a WHERE a.device_id = d.device_id AND a.clip_id = d.clip_id AND a.kind = 'audio' LIMIT 1) AS Audio
                    FROM detections d
                    WHERE d.clip_id IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.device_id = d.device_id AND l.seq = d.seq)
                      AND NOT EXISTS (SELECT 1 FROM review_entries r WHERE r.device_id = d.device_id AND r.seq = d.seq)
                      AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = d.device_id AND c.clip_id = d.clip_id
                                  AND (c.kind = 'audio' OR c.received_utc_ms < ?2))
                    ORDER BY d.received_utc_ms, d.device_id, d.seq LIMIT ?1
                    """, limit, featureOnlyReceivedBeforeUtc.ToUnixTimeMilliseconds())
                .Select(r => r.ToWork(nearMiss: false)).ToList();
        }
    }

    /// <inheritdoc />
    public string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId)
    {
        ArgumentNullException.ThrowIfNull(label);
        if ((MonitoringValues.RefuseLabel(label) ?? LabelingValues.RefuseProvenance(provenance)) is { } refused)
        {
            return refused;
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                if (_writer.ExecuteScalar<long>("SELECT COUNT(*) FROM detections WHERE device_id = ? AND seq = ?", label.DeviceId, label.Sequence) == 0)
                {
                    _writer.Execute("ROLLBACK");
                    return MonitoringValues.NoDetection(label);
                }
                long ms = label.LabeledUtc.ToUnixTimeMilliseconds();
                UpsertLabel(label.DeviceId, label.Sequence, label.Label, label.Source, ms, provenance);
                if (label.Label == DetectionLabelKind.Unknown)
                {
                    _writer.Execute(
                        """
                        INSERT OR REPLACE INTO review_entries (device_id, seq, clip_id, reason, candidate, confidence, tool, queued_utc_ms)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        label.DeviceId, label.Sequence, clipId, LabelingValues.Cut(reviewReason ?? "queued for review"), candidate.ToString(), provenance.Confidence,
                        provenance.Tool, ms);
                }
                _writer.Execute("COMMIT");
                return null;
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    private void UpsertLabel(string deviceId, long seq, DetectionLabelKind label, string source, long ms, LabelProvenance p)
    {
        _writer.Execute(
            """
            INSERT INTO labels (device_id, seq, label, source, labeled_utc_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (device_id, seq) DO UPDATE SET label = excluded.label, source = excluded.source, labeled_utc_ms = excluded.labeled_utc_ms
            """, deviceId, seq, label.ToString(), source, ms);
        _writer.Execute(
            "INSERT OR REPLACE INTO label_provenance (device_id, seq, kind, tool, confidence, reviewer, source, labeled_utc_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            deviceId, seq, p.Kind, p.Tool, p.Confidence, p.Reviewer, source, ms);
    }

    /// <inheritdoc />
    public IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<QueueRow>(
                    """
                    SELECT l.device_id AS DeviceId, l.seq AS Seq, coalesce(r.clip_id, d.clip_id) AS ClipId,
                           EXISTS (SELECT 1 FROM clips a WHERE a.device_id = l.device_id AND a.clip_id = coalesce(r.clip_id, d.clip_id) AND a.kind = 'audio') AS HasAudio,
                           r.reason AS Reason, r.candidate AS Candidate, r.confidence AS Confidence, l.source AS Source, r.tool AS Tool,
                           coalesce(r.queued_utc_ms, l.labeled_utc_ms) AS Queued
                    FROM labels l
                    JOIN detections d ON d.device_id = l.device_id AND d.seq = l.seq
                    LEFT JOIN review_entries r ON r.device_id = l.device_id AND r.seq = l.seq AND r.decision IS NULL
                    WHERE l.label = 'Unknown'
                    ORDER BY Queued, l.device_id, l.seq LIMIT ?
                    """, limit)
                .Select(r => new ReviewQueueEntry(r.DeviceId, r.Seq, r.ClipId, r.HasAudio != 0, r.Reason ?? "labelled Unknown through the labels API",
                    r.Candidate is null ? DetectionLabelKind.Unknown : Enum.Parse<DetectionLabelKind>(r.Candidate), r.Confidence, r.Source, r.Tool,
                    DateTimeOffset.FromUnixTimeMilliseconds(r.Queued)))
                .ToList();
        }
    }

    /// <inheritdoc />
    public string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingValues.RefuseDecision(label) ?? LabelingValues.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                string? current = _writer.ExecuteScalar<string>("SELECT label FROM labels WHERE device_id = ? AND seq = ?", deviceId, sequence);
                if (current != nameof(DetectionLabelKind.Unknown))
                {
                    _writer.Execute("ROLLBACK");
                    return $"detection ({deviceId}, {sequence}) is not in the review queue" + (current is null ? string.Empty : $" (its label is {current})");
                }
                long ms = nowUtc.ToUnixTimeMilliseconds();
                UpsertLabel(deviceId, sequence, label, LabelingValues.ReviewSource(reviewer), ms,
                    new LabelProvenance(LabelProvenanceKinds.Review, LabelProvenanceKinds.Review, null, reviewer));
                _writer.Execute("UPDATE review_entries SET decision = ?, reviewer = ?, decided_utc_ms = ? WHERE device_id = ? AND seq = ? AND decision IS NULL",
                    label.ToString(), reviewer, ms, deviceId, sequence);
                _writer.Execute("COMMIT");
                return null;
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public byte[]? ReadClipAudio(string deviceId, string clipId)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.ExecuteScalar<byte[]>("SELECT frame FROM clips WHERE device_id = ? AND clip_id = ? AND kind = 'audio' LIMIT 1", deviceId, clipId);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return QueryProvenance("WHERE (?1 IS NULL OR l.device_id = ?1) ORDER BY l.labeled_utc_ms DESC, l.device_id, l.seq LIMIT ?2", deviceId, limit);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<LabelWithProvenance> all = QueryProvenance(
                """
                WHERE l.label IN ('TrueAccept', 'FalseAccept') AND (p.reviewer IS NULL OR p.reviewer <> ?1)
                  AND NOT EXISTS (SELECT 1 FROM label_audits a WHERE a.device_id = l.device_id AND a.seq = l.seq AND a.reviewer = ?1)
                ORDER BY l.device_id, l.seq LIMIT ?2
                """, reviewer, 100_000);
            return LabelingValues.Sample(all, count, seed);
        }
    }

    private List<LabelWithProvenance> QueryProvenance(string tail, params object?[] args) =>
        _reader.Query<ProvenanceRow>(
                """
                SELECT l.device_id AS DeviceId, l.seq AS Seq, l.label AS Label, l.source AS Source, l.labeled_utc_ms AS Labeled,
                       p.kind AS Kind, p.tool AS Tool, p.confidence AS Confidence, p.reviewer AS Reviewer
                FROM labels l LEFT JOIN label_provenance p
                  ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
                """ + "\n" + tail, args)
            .Select(r => new LabelWithProvenance(r.ToLabel(), r.ToProvenance()))
            .ToList();

    /// <inheritdoc />
    public string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingValues.RefuseDecision(label) ?? LabelingValues.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<ProvenanceRow> rows = _writer.Query<ProvenanceRow>(
                """
                SELECT l.label AS Label, p.kind AS Kind, p.reviewer AS Reviewer FROM labels l LEFT JOIN label_provenance p
                  ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
                WHERE l.device_id = ? AND l.seq = ?
                """, deviceId, sequence);
            if (rows.Count == 0 || rows[0].Label == nameof(DetectionLabelKind.Unknown))
            {
                return $"detection ({deviceId}, {sequence}) has no decided label to re-review";
            }
            if (rows[0].Reviewer == reviewer)
            {
                return $"'{reviewer}' decided this label; a re-review must be by someone else";
            }
            _writer.Execute("INSERT INTO label_audits (device_id, seq, reviewer, label, first_label, first_kind, audited_utc_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                deviceId, sequence, reviewer, label.ToString(), rows[0].Label, rows[0].Kind, nowUtc.ToUnixTimeMilliseconds());
            return null;
        }
    }

    /// <inheritdoc />
    public AgreementCounts ReadAgreement()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<AgreementRow> rows = _reader.Query<AgreementRow>(
                "SELECT first_kind AS Kind, COUNT(*) AS Compared, SUM(label = first_label) AS Agreed FROM label_audits GROUP BY first_kind");
            return new AgreementCounts(rows.Sum(r => r.Compared), rows.Sum(r => r.Agreed),
                rows.ToDictionary(r => LabelingValues.KindOf(r.Kind), r => (r.Compared, r.Agreed), StringComparer.Ordinal));
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<LabelledClipRow>(
                    """
                    SELECT l.device_id AS DeviceId, l.seq AS Seq, l.label AS Label, l.source AS Source, l.labeled_utc_ms AS Labeled,
                           p.kind AS Kind, p.tool AS Tool, p.confidence AS Confidence, p.reviewer AS Reviewer, d.clip_id AS ClipId, d.keyword AS Keyword, a.frame AS Audio
                    FROM labels l
                    JOIN detections d ON d.device_id = l.device_id AND d.seq = l.seq
                    JOIN clips a ON a.device_id = d.device_id AND a.clip_id = d.clip_id AND a.kind = 'audio'
                    LEFT JOIN label_provenance p ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
                    WHERE l.label IN ('TrueAccept', 'FalseAccept') AND (l.device_id > ?1 OR (l.device_id = ?1 AND l.seq > ?2))
                    ORDER BY l.device_id, l.seq LIMIT ?3
                    """, afterDeviceId, afterSequence, limit)
                .Select(r => new LabelledClip(r.ToLabel(), r.ToProvenance(), r.ClipId, r.Keyword, r.Audio ?? []))
                .ToList();
        }
    }

    private sealed class LabelledClipRow : ProvenanceRow
    {
        public string ClipId { get; set; } = string.Empty;
        public string? Keyword { get; set; }
        public byte[]? Audio { get; set; }
    }

    // Erasure (inside EraseDevice's transaction): the device's label provenance, review entries and re-reviews go with its labels.
    private void EraseLabelingRows(string deviceId)
    {
        _writer.Execute("DELETE FROM label_provenance WHERE device_id = ?", deviceId);
        _writer.Execute("DELETE FROM review_entries WHERE device_id = ?", deviceId);
        _writer.Execute("DELETE FROM label_audits WHERE device_id = ?", deviceId);
    }

    private sealed class WorkRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public string ClipId { get; set; } = string.Empty;
        public string? Keyword { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public byte[]? Audio { get; set; }
        public double Score { get; set; }

        // Trigger clips (detections) and near-miss clips are read into the same work item.
        public TriggerClipWork ToWork(bool nearMiss) => new(DeviceId, Seq, ClipId, Keyword, ModelVersion, Audio, Score, nearMiss);
    }

    private sealed class QueueRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public string? ClipId { get; set; }
        public long HasAudio { get; set; }
        public string? Reason { get; set; }
        public string? Candidate { get; set; }
        public double? Confidence { get; set; }
        public string Source { get; set; } = string.Empty;
        public string? Tool { get; set; }
        public long Queued { get; set; }
    }

    /// <summary>A label row joined with its provenance (null columns when the label predates provenance).</summary>
    private class ProvenanceRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public string Label { get; set; } = string.Empty;
        public string Source { get; set; } = string.Empty;
        public long Labeled { get; set; }
        public string? Kind { get; set; }
        public string? Tool { get; set; }
        public double? Confidence { get; set; }
        public string? Reviewer { get; set; }

        public DetectionLabel ToLabel() =>
            new(DeviceId, Seq, Enum.Parse<DetectionLabelKind>(Label), Source, DateTimeOffset.FromUnixTimeMilliseconds(Labeled));

        public LabelProvenance? ToProvenance() => Kind is null ? null : new LabelProvenance(Kind, Tool ?? string.Empty, Confidence, Reviewer);
    }

    private sealed class AgreementRow
    {
        public string? Kind { get; set; }
        public long Compared { get; set; }
        public long Agreed { get; set; }
    }
}
