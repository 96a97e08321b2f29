using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Model registry and rollouts over either database (schema versions 5 and 9): the one implementation of <see cref="IRolloutStore"/>,
/// which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. Records are JSON documents (the
/// registry's lineage and the rollout's device list change shape more often than they are queried); the columns beside them are
/// what is looked up or ordered by. The signed package is stored as blobs (a model is at most 64 KB).
/// <para>Concurrency: the rollout's revision column makes concurrent updates from two gateway instances safe (the loser's
/// <c>UPDATE ... WHERE revision = $n</c> matches nothing); a version registered twice is refused by its primary key.</para>
/// </summary>
internal sealed class RolloutStore : IRolloutStore
{
    private readonly IStoreConnections _db;
    private readonly string _readModelsSql;

    public RolloutStore(IStoreConnections db)
    {
        _db = db;
        _readModelsSql = $"SELECT record_json FROM registry_models ORDER BY registered_utc_ms DESC, model_version{db.Dialect.BinaryOrder} DESC";
    }

    /// <summary>Schema version 5: the registry and rollouts.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        // NOT NULL on the primary key: SQLite (unlike PostgreSQL) would otherwise allow NULL keys.
        $"""
        CREATE TABLE IF NOT EXISTS registry_models (
            model_version      {d.Text} PRIMARY KEY NOT NULL,
            registered_utc_ms  {d.Int64} NOT NULL,
            record_json        {d.Text} NOT NULL,
            manifest           {d.Blob} NOT NULL,
            signature          {d.Blob} NOT NULL,
            model              {d.Blob} NOT NULL
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS rollouts (
            id                 {d.AutoIdPrimaryKey},
            model_version      {d.Text} NOT NULL,
            state              {d.Text} NOT NULL,
            started_utc_ms     {d.Int64} NOT NULL,
            revision           {d.Int64} NOT NULL,
            record_json        {d.Text} NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS model_status_received ON model_status (device_id, received_utc_ms)",
    ];

    /// <summary>Schema version 9: the float weights a model was quantized from (null for models registered without them).</summary>
    public static string[] FloatWeightsDdl(StoreDialect d) => [d.AddColumn("registry_models", "float_model", d.Blob)];

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason) => TryAddRegisteredModel(model, package, null, out reason);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason)
    {
        RolloutArgumentRules.Validate(model, package);
        int added = _db.Write(s => s.Execute(
            "INSERT INTO registry_models (model_version, registered_utc_ms, record_json, manifest, signature, model, float_model) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            model.ModelVersion, model.RegisteredUtc.ToUnixTimeMilliseconds(), RolloutJson.Serialize(model), package.Manifest, package.Signature, package.Model, floatWeights));
        reason = added == 1 ? string.Empty : $"model version '{model.ModelVersion}' is already registered";
        return added == 1;
    }

    /// <inheritdoc />
    public bool UpdateRegisteredModel(RegisteredModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return _db.Write(s => s.Execute("UPDATE registry_models SET record_json = $1 WHERE model_version = $2", RolloutJson.Serialize(model), model.ModelVersion)) == 1;
    }

    /// <inheritdoc />
    public IReadOnlyList<RegisteredModel> ReadRegisteredModels() =>
        _db.Read(s => s.Query(_readModelsSql, r => RolloutJson.Deserialize<RegisteredModel>(r.GetString(0), "registry model")));

    /// <inheritdoc />
    public bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model)
    {
        List<string> rows = _db.Read(s => s.Query("SELECT record_json FROM registry_models WHERE model_version = $1", r => r.GetString(0), modelVersion));
        model = rows.Count == 1 ? RolloutJson.Deserialize<RegisteredModel>(rows[0], "registry model") : null;
        return model is not null;
    }

    /// <inheritdoc />
    public bool TryGetModelPackage(string modelVersion, out ModelPackage? package)
    {
        List<ModelPackage> rows = _db.Read(s => s.Query("SELECT manifest, signature, model FROM registry_models WHERE model_version = $1",
            r => new ModelPackage(r.GetBytes(0) ?? [], r.GetBytes(1) ?? [], r.GetBytes(2) ?? []), modelVersion));
        package = rows.Count == 1 ? rows[0] : null;
        return package is not null;
    }

    /// <inheritdoc />
    public bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights)
    {
        List<byte[]?> rows = _db.Read(s => s.Query("SELECT float_model FROM registry_models WHERE model_version = $1", r => r.GetBytes(0), modelVersion));
        // Zero bytes are no float weights (no ONNX model is empty). The SQLite store always read them so; the PostgreSQL one
        // returned an empty array as present: now both answer false.
        floatWeights = rows.Count == 1 && rows[0] is { Length: > 0 } bytes ? bytes : null;
        return floatWeights is not null;
    }

    /// <inheritdoc />
    public RolloutRecord AddRollout(RolloutRecord rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        // One transaction: the row is inserted to get its id, then given the record that carries that id.
        return _db.Write(s => s.InTransaction(() =>
        {
            long id = s.Query("INSERT INTO rollouts (model_version, state, started_utc_ms, revision, record_json) VALUES ($1, $2, $3, 1, '{}') RETURNING id",
                r => r.GetInt64(0), rollout.ModelVersion, rollout.State.ToString(), rollout.StartedUtc.ToUnixTimeMilliseconds()).Single();
            RolloutRecord stored = rollout with { Id = id, Revision = 1 };
            s.Execute("UPDATE rollouts SET record_json = $1 WHERE id = $2", RolloutJson.Serialize(stored), id);
            return stored;
        }));
    }

    /// <inheritdoc />
    public RolloutRecord? TryUpdateRollout(RolloutRecord rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        RolloutRecord next = rollout with { Revision = rollout.Revision + 1 };
        int updated = _db.Write(s => s.Execute("UPDATE rollouts SET state = $1, revision = $2, record_json = $3 WHERE id = $4 AND revision = $5",
            next.State.ToString(), next.Revision, RolloutJson.Serialize(next), rollout.Id, rollout.Revision));
        return updated == 1 ? next : null;
    }

    /// <inheritdoc />
    public IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit) =>
        _db.Read(s => s.Query("SELECT record_json FROM rollouts WHERE ($1 = 0 OR state IN ('Running', 'RollingBack')) ORDER BY id DESC LIMIT $2",
            r => RolloutJson.Deserialize<RolloutRecord>(r.GetString(0), "rollout"), activeOnly ? 1 : 0, s.Dialect.Limit(limit)));

    /// <inheritdoc />
    public bool TryGetRollout(long id, out RolloutRecord? rollout)
    {
        List<string> rows = _db.Read(s => s.Query("SELECT record_json FROM rollouts WHERE id = $1", r => r.GetString(0), id));
        rollout = rows.Count == 1 ? RolloutJson.Deserialize<RolloutRecord>(rows[0], "rollout") : null;
        return rollout is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc) =>
        _db.Read(s => s.Query(
            """
            SELECT device_id, seq, received_utc_ms, active_model_version, update_result, target_model_version, reason
            FROM model_status WHERE device_id = $1 AND received_utc_ms > $2 ORDER BY received_utc_ms, seq
            """,
            r => new ModelStatusRecord(r.GetString(0), r.GetInt64(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.GetString(3),
                Enum.Parse<ModelUpdateResult>(r.GetString(4)), r.GetStringOrNull(5), r.GetStringOrNull(6)),
            deviceId, receivedAfterUtc.ToUnixTimeMilliseconds()));
}
