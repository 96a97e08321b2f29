namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Governance (retention, erasure, dataset membership) and training-serving skew over either database (schema version 3): the
/// one implementation of <see cref="IGovernanceStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/>
/// delegate to. SQL and logic are written once; <see cref="StoreDialect"/> supplies the differences.
/// </summary>
internal sealed class GovernanceStore : IGovernanceStore
{
    private readonly IStoreConnections _db;
    private readonly LabelingStore _labeling;
    private readonly NearMissStore _nearMisses;
    private readonly string _readMembersSql;
    private readonly string _readTaintsSql;
    private readonly string _readPairsSql;
    private readonly string _readSkewSql;

    /// <param name="db">The store's connections.</param>
    /// <param name="labeling">Erasure also deletes the device's labeling rows, on the erasure's session inside its transaction.</param>
    /// <param name="nearMisses">Erasure also deletes the device's near misses, on the erasure's session inside its transaction.</param>
    public GovernanceStore(IStoreConnections db, LabelingStore labeling, NearMissStore nearMisses)
    {
        _db = db;
        _labeling = labeling;
        _nearMisses = nearMisses;
        string c = db.Dialect.BinaryOrder;
        _readMembersSql = $"SELECT device_id, clip_id FROM dataset_members WHERE dataset_id = $1 ORDER BY device_id{c}, clip_id{c}";
        _readTaintsSql = $"SELECT model_version, erased_device_id, reason, tainted_utc_ms FROM model_taints ORDER BY model_version{c}, erased_device_id{c}";
        _readPairsSql =
            $"""
            SELECT a.device_id, a.clip_id, a.frame, f.frame
            FROM clips a JOIN clips f ON f.device_id = a.device_id AND f.clip_id = a.clip_id AND f.kind = 'features'
            WHERE a.kind = 'audio' AND NOT EXISTS (SELECT 1 FROM clip_skew s WHERE s.device_id = a.device_id AND s.clip_id = a.clip_id)
            ORDER BY a.received_utc_ms, a.device_id{c}, a.seq LIMIT $1
            """;
        _readSkewSql =
            $"""
            SELECT device_id, clip_id, computed_utc_ms, status, frames, max_abs_diff, max_rel_diff, worst_frame, message
            FROM clip_skew WHERE ($1 IS NULL OR device_id = $1) ORDER BY computed_utc_ms DESC, device_id{c}, clip_id{c} LIMIT $2
            """;
    }

    /// <summary>Schema version 3 (run once by each store's migration, in order with the other concerns' steps).</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS dataset_members (
            dataset_id   {d.Text} NOT NULL,
            device_id    {d.Text} NOT NULL,
            clip_id      {d.Text} NOT NULL,
            PRIMARY KEY (dataset_id, device_id, clip_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS dataset_members_device ON dataset_members (device_id)",
        $"""
        CREATE TABLE IF NOT EXISTS model_datasets (
            model_version  {d.Text} NOT NULL,
            dataset_id     {d.Text} NOT NULL,
            PRIMARY KEY (model_version, dataset_id)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS model_taints (
            model_version      {d.Text} NOT NULL,
            erased_device_id   {d.Text} NOT NULL,
            reason             {d.Text} NOT NULL,
            tainted_utc_ms     {d.Int64} NOT NULL,
            PRIMARY KEY (model_version, erased_device_id)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS clip_skew (
            device_id          {d.Text} NOT NULL,
            clip_id            {d.Text} NOT NULL,
            computed_utc_ms    {d.Int64} NOT NULL,
            status             {d.Text} NOT NULL,
            frames             {d.Int32} NOT NULL,
            max_abs_diff       {d.Real} NOT NULL,
            max_rel_diff       {d.Real} NOT NULL,
            worst_frame        {d.Int32} NOT NULL,
            message            {d.Text} NOT NULL,
            PRIMARY KEY (device_id, clip_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS clips_received ON clips (kind, received_utc_ms)",
    ];

    /// <inheritdoc />
    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc) =>
        _db.Write(s =>
        {
            int deleted = s.Execute("DELETE FROM clips WHERE kind = 'audio' AND received_utc_ms < $1", cutoffUtc.ToUnixTimeMilliseconds());
            if (deleted > 0)
            {
                s.Dialect.ReclaimFreedPages(s);
            }
            return (long)deleted;
        });

    /// <inheritdoc />
    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members)
    {
        GovernanceArgumentRules.ValidateDataset(datasetId, members);
        return _db.Write(s => s.InTransaction(() =>
        {
            long added = 0;
            foreach (DatasetMember m in members)
            {
                added += s.Execute("INSERT INTO dataset_members (dataset_id, device_id, clip_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    datasetId, m.DeviceId, m.ClipId);
            }
            return added;
        }));
    }

    /// <inheritdoc />
    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId) =>
        _db.Read(s => s.Query(_readMembersSql, r => new DatasetMember(r.GetString(0), r.GetString(1)), datasetId));

    /// <inheritdoc />
    public void RecordModelDataset(string modelVersion, string datasetId)
    {
        GovernanceArgumentRules.ValidateModelDataset(modelVersion, datasetId);
        _db.Write(s => s.Execute("INSERT INTO model_datasets (model_version, dataset_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", modelVersion, datasetId));
    }

    /// <inheritdoc />
    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        return _db.Write(s =>
        {
            ErasureCounts counts = s.InTransaction(() =>
            {
                // Locks the device row first, so two instances erasing the same device run one after the other (the second finds nothing).
                s.Dialect.LockRows(s, "SELECT 1 FROM devices WHERE device_id = $1", deviceId);
                // Marks first: they are found through the membership this erasure deletes. (The WHERE before GROUP BY also keeps
                // SQLite from reading ON CONFLICT as a join's ON.)
                long tainted = s.Execute(
                    """
                    INSERT INTO model_taints (model_version, erased_device_id, reason, tainted_utc_ms)
                    SELECT md.model_version, $1, 'trained on erased device ' || $1 || ' (dataset ' || min(md.dataset_id) || ')', $2
                    FROM model_datasets md JOIN dataset_members m ON m.dataset_id = md.dataset_id
                    WHERE m.device_id = $1 GROUP BY md.model_version
                    ON CONFLICT DO NOTHING
                    """, deviceId, nowUtc.ToUnixTimeMilliseconds());
                // Same order as before: labeling rows, then near misses, then the rows below.
                _labeling.EraseDeviceRows(s, deviceId);
                _nearMisses.EraseDeviceRows(s, deviceId);
                return new ErasureCounts(
                    AudioClips: s.Execute("DELETE FROM clips WHERE device_id = $1 AND kind = 'audio'", deviceId),
                    FeatureClips: s.Execute("DELETE FROM clips WHERE device_id = $1 AND kind = 'features'", deviceId),
                    DetectionClipRefs: s.Execute("UPDATE detections SET clip_id = NULL WHERE device_id = $1 AND clip_id IS NOT NULL", deviceId),
                    Labels: s.Execute("DELETE FROM labels WHERE device_id = $1", deviceId),
                    DatasetMemberships: s.Execute("DELETE FROM dataset_members WHERE device_id = $1", deviceId),
                    SkewResults: s.Execute("DELETE FROM clip_skew WHERE device_id = $1", deviceId),
                    ModelsTainted: tainted,
                    CredentialRevoked: !keepCredential && s.Execute(
                        "UPDATE devices SET password_salt = NULL, password_hash = NULL, pbkdf2_iterations = NULL WHERE device_id = $1 AND password_hash IS NOT NULL",
                        deviceId) == 1);
            });
            // After the commit, still on the writer (SQLite: under its lock).
            s.Dialect.ReclaimFreedPages(s);
            return counts;
        });
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelTaint> ReadModelTaints() =>
        _db.Read(s => s.Query(_readTaintsSql,
            r => new ModelTaint(r.GetString(0), r.GetString(1), r.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3)))));

    /// <inheritdoc />
    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit) =>
        _db.Read(s => s.Query(_readPairsSql,
            r => new ClipPair(r.GetString(0), r.GetString(1), r.GetBytes(2) ?? [], r.GetBytes(3) ?? []), s.Dialect.Limit(limit)));

    /// <inheritdoc />
    public void WriteSkewResult(SkewResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        _db.Write(s => s.Execute(
            """
            INSERT INTO clip_skew (device_id, clip_id, computed_utc_ms, status, frames, max_abs_diff, max_rel_diff, worst_frame, message)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (device_id, clip_id) DO UPDATE SET computed_utc_ms = excluded.computed_utc_ms, status = excluded.status, frames = excluded.frames,
                max_abs_diff = excluded.max_abs_diff, max_rel_diff = excluded.max_rel_diff, worst_frame = excluded.worst_frame, message = excluded.message
            """,
            result.DeviceId, result.ClipId, result.ComputedUtc.ToUnixTimeMilliseconds(), result.Status.ToString(), result.Frames,
            result.MaxAbsDifference, result.MaxRelativeDifference, result.WorstFrame, result.Message));
    }

    /// <inheritdoc />
    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit) =>
        _db.Read(s => s.Query(_readSkewSql,
            r => new SkewResult(r.GetString(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), Enum.Parse<SkewStatus>(r.GetString(3)),
                r.GetInt32(4), r.GetDouble(5), r.GetDouble(6), r.GetInt32(7), r.GetString(8)),
            deviceId, s.Dialect.Limit(limit)));
}
