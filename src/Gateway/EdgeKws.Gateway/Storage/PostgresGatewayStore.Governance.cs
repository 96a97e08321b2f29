using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>Governance (retention, erasure, dataset membership) and skew tables of the PostgreSQL store (schema version 3).</summary>
public sealed partial class PostgresGatewayStore
{
    private static readonly string[] GovernanceDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS dataset_members (
            dataset_id   text NOT NULL,
            device_id    text NOT NULL,
            clip_id      text NOT NULL,
            PRIMARY KEY (dataset_id, device_id, clip_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS dataset_members_device ON dataset_members (device_id)",
        """
        CREATE TABLE IF NOT EXISTS model_datasets (
            model_version  text NOT NULL,
            dataset_id     text NOT NULL,
            PRIMARY KEY (model_version, dataset_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS model_taints (
            model_version      text NOT NULL,
            erased_device_id   text NOT NULL,
            reason             text NOT NULL,
            tainted_utc_ms     bigint NOT NULL,
            PRIMARY KEY (model_version, erased_device_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS clip_skew (
            device_id          text NOT NULL,
            clip_id            text NOT NULL,
            computed_utc_ms    bigint NOT NULL,
            status             text NOT NULL,
            frames             integer NOT NULL,
            max_abs_diff       double precision NOT NULL,
            max_rel_diff       double precision NOT NULL,
            worst_frame        integer NOT NULL,
            message            text NOT NULL,
            PRIMARY KEY (device_id, clip_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS clips_received ON clips (kind, received_utc_ms)",
    ];

    /// <inheritdoc />
    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc)
    {
        using NpgsqlConnection db = Connection();
        return Run(db, null, "DELETE FROM clips WHERE kind = 'audio' AND received_utc_ms < $1", P(cutoffUtc.ToUnixTimeMilliseconds()));
    }

    /// <inheritdoc />
    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members)
    {
        GovernanceValues.ValidateDataset(datasetId, members);
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        long added = 0;
        foreach (DatasetMember m in members)
        {
            added += Run(db, tx, "INSERT INTO dataset_members (dataset_id, device_id, clip_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                P(datasetId), P(m.DeviceId), P(m.ClipId));
        }
        tx.Commit();
        return added;
    }

    /// <inheritdoc />
    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            "SELECT device_id, clip_id FROM dataset_members WHERE dataset_id = $1 ORDER BY device_id COLLATE \"C\", clip_id COLLATE \"C\"", db);
        cmd.Parameters.Add(P(datasetId));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<DatasetMember>();
        while (r.Read())
        {
            list.Add(new DatasetMember(r.GetString(0), r.GetString(1)));
        }
        return list;
    }

    /// <inheritdoc />
    public void RecordModelDataset(string modelVersion, string datasetId)
    {
        GovernanceValues.ValidateModelDataset(modelVersion, datasetId);
        using NpgsqlConnection db = Connection();
        Run(db, null, "INSERT INTO model_datasets (model_version, dataset_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", P(modelVersion), P(datasetId));
    }

    /// <inheritdoc />
    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        // Locks the device row first, so two instances erasing the same device run one after the other (the second finds nothing).
        Run(db, tx, "SELECT 1 FROM devices WHERE device_id = $1 FOR UPDATE", P(deviceId));
        // Marks first: they are found through the membership this erasure deletes.
        long tainted = Run(db, tx,
            """
            INSERT INTO model_taints (model_version, erased_device_id, reason, tainted_utc_ms)
            SELECT md.model_version, $1, 'trained on erased device ' || $1 || ' (dataset ' || min(md.dataset_id) || ')', $2
            FROM model_datasets md JOIN dataset_members m ON m.dataset_id = md.dataset_id
            WHERE m.device_id = $1 GROUP BY md.model_version
            ON CONFLICT DO NOTHING
            """, P(deviceId), P(nowUtc.ToUnixTimeMilliseconds()));
        EraseLabelingRows(db, tx, deviceId);
        EraseNearMissRows(db, tx, deviceId);
        var counts = new ErasureCounts(
            AudioClips: Run(db, tx, "DELETE FROM clips WHERE device_id = $1 AND kind = 'audio'", P(deviceId)),
            FeatureClips: Run(db, tx, "DELETE FROM clips WHERE device_id = $1 AND kind = 'features'", P(deviceId)),
            DetectionClipRefs: Run(db, tx, "UPDATE detections SET clip_id = NULL WHERE device_id = $1 AND clip_id IS NOT NULL", P(deviceId)),
            Labels: Run(db, tx, "DELETE FROM labels WHERE device_id = $1", P(deviceId)),
            DatasetMemberships: Run(db, tx, "DELETE FROM dataset_members WHERE device_id = $1", P(deviceId)),
            SkewResults: Run(db, tx, "DELETE FROM clip_skew WHERE device_id = $1", P(deviceId)),
            ModelsTainted: tainted,
            CredentialRevoked: !keepCredential && Run(db, tx,
                "UPDATE devices SET password_salt = NULL, password_hash = NULL, pbkdf2_iterations = NULL WHERE device_id = $1 AND password_hash IS NOT NULL",
                P(deviceId)) == 1);
        tx.Commit();
        return counts;
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelTaint> ReadModelTaints()
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            "SELECT model_version, erased_device_id, reason, tainted_utc_ms FROM model_taints ORDER BY model_version COLLATE \"C\", erased_device_id COLLATE \"C\"", db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<ModelTaint>();
        while (r.Read())
        {
            list.Add(new ModelTaint(r.GetString(0), r.GetString(1), r.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(3))));
        }
        return list;
    }

    /// <inheritdoc />
    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT a.device_id, a.clip_id, a.frame, f.frame
            FROM clips a JOIN clips f ON f.device_id = a.device_id AND f.clip_id = a.clip_id AND f.kind = 'features'
            WHERE a.kind = 'audio' AND NOT EXISTS (SELECT 1 FROM clip_skew s WHERE s.device_id = a.device_id AND s.clip_id = a.clip_id)
            ORDER BY a.received_utc_ms, a.device_id COLLATE "C", a.seq LIMIT $1
            """, db);
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<ClipPair>();
        while (r.Read())
        {
            list.Add(new ClipPair(r.GetString(0), r.GetString(1), r.GetFieldValue<byte[]>(2), r.GetFieldValue<byte[]>(3)));
        }
        return list;
    }

    /// <inheritdoc />
    public void WriteSkewResult(SkewResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        using NpgsqlConnection db = Connection();
        Run(db, null,
            """
            INSERT INTO clip_skew (device_id, clip_id, computed_utc_ms, status, frames, max_abs_diff, max_rel_diff, worst_frame, message)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (device_id, clip_id) DO UPDATE SET computed_utc_ms = excluded.computed_utc_ms, status = excluded.status, frames = excluded.frames,
                max_abs_diff = excluded.max_abs_diff, max_rel_diff = excluded.max_rel_diff, worst_frame = excluded.worst_frame, message = excluded.message
            """,
            P(result.DeviceId), P(result.ClipId), P(result.ComputedUtc.ToUnixTimeMilliseconds()), P(result.Status.ToString()), P(result.Frames),
            P(result.MaxAbsDifference), P(result.MaxRelativeDifference), P(result.WorstFrame), P(result.Message));
    }

    /// <inheritdoc />
    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT device_id, clip_id, computed_utc_ms, status, frames, max_abs_diff, max_rel_diff, worst_frame, message
            FROM clip_skew WHERE ($1 IS NULL OR device_id = $1) ORDER BY computed_utc_ms DESC, device_id COLLATE "C", clip_id COLLATE "C" LIMIT $2
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(Limit(limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<SkewResult>();
        while (r.Read())
        {
            list.Add(new SkewResult(r.GetString(0), r.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), Enum.Parse<SkewStatus>(r.GetString(3)),
                r.GetInt32(4), r.GetDouble(5), r.GetDouble(6), r.GetInt32(7), r.GetString(8)));
        }
        return list;
    }

    private static int Run(NpgsqlConnection db, NpgsqlTransaction? tx, string sql, params NpgsqlParameter[] parameters)
    {
        using var cmd = new NpgsqlCommand(sql, db, tx);
        cmd.Parameters.AddRange(parameters);
        return cmd.ExecuteNonQuery();
    }
}
