namespace EdgeKws.Gateway.Storage;

/// <summary>Field clips in the SQLite store (see <see cref="IGatewayStore.ReadFieldClips"/>): triggers and near misses with decided labels.</summary>
public sealed partial class SqliteGatewayStore
{
    /// <inheritdoc />
    public IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<FieldClipRow>(
                    """
                    SELECT x.*,
                           coalesce((SELECT a.frame FROM clips a WHERE a.device_id = x.DeviceId AND a.clip_id = x.ClipId AND a.kind = 'audio' LIMIT 1),
                                    (SELECT f.frame FROM clips f WHERE f.device_id = x.DeviceId AND f.clip_id = x.ClipId AND f.kind = 'features' LIMIT 1)) AS Frame,
                           EXISTS (SELECT 1 FROM clips a WHERE a.device_id = x.DeviceId AND a.clip_id = x.ClipId AND a.kind = 'audio') AS IsAudio
                    FROM (
                        SELECT 'trigger' AS Kind, d.device_id AS DeviceId, d.seq AS Seq, d.device_time_utc_ms AS DeviceTime, d.received_utc_ms AS Received,
                               d.stream_offset_ms AS StreamOffset, d.score AS Score, d.keyword AS Keyword, d.model_version AS ModelVersion, d.clip_id AS ClipId,
                               l.label AS Label, l.source AS Source, l.labeled_utc_ms AS Labeled, p.kind AS ProvenanceKind, p.tool AS Tool, p.confidence AS Confidence,
                               p.reviewer AS Reviewer
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
                    WHERE (x.DeviceId > ?1 OR (x.DeviceId = ?1 AND x.Seq > ?2))
                      AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = x.DeviceId AND c.clip_id = x.ClipId)
                    ORDER BY x.DeviceId, x.Seq LIMIT ?3
                    """, afterDeviceId, afterSequence, limit)
                .Select(r => r.ToClip()).ToList();
        }
    }

    private sealed class FieldClipRow
    {
        public string Kind { get; set; } = string.Empty;
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public long DeviceTime { get; set; }
        public long Received { get; set; }
        public long StreamOffset { get; set; }
        public double Score { get; set; }
        public string? Keyword { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public string ClipId { get; set; } = string.Empty;
        public string Label { get; set; } = string.Empty;
        public string? Source { get; set; }
        public long Labeled { get; set; }
        public string? ProvenanceKind { get; set; }
        public string? Tool { get; set; }
        public double? Confidence { get; set; }
        public string? Reviewer { get; set; }
        public byte[]? Frame { get; set; }
        public long IsAudio { get; set; }

        public FieldClip ToClip() => new(Kind, DeviceId, Seq, DateTimeOffset.FromUnixTimeMilliseconds(DeviceTime), DateTimeOffset.FromUnixTimeMilliseconds(Received),
            StreamOffset, Score, Keyword, ModelVersion, ClipId, Enum.Parse<DetectionLabelKind>(Label), Source ?? string.Empty, DateTimeOffset.FromUnixTimeMilliseconds(Labeled),
            ProvenanceKind is null ? null : new LabelProvenance(ProvenanceKind, Tool ?? string.Empty, Confidence, Reviewer), Frame ?? [], IsAudio != 0);
    }
}
