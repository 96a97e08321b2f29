using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>The concerns written once for both databases (docs/gateway.md, "Store layout"): this store lends them its connections
/// and forwards their members.</summary>
public sealed partial class PostgresGatewayStore
{
    private readonly GovernanceStore _governance;
    private readonly RolloutStore _rollout;
    private readonly NearMissStore _nearMisses;

    /// <summary>Called once by the constructor.</summary>
    private (GovernanceStore, RolloutStore, NearMissStore) CreateConcerns()
    {
        var connections = new Connections(this);
        var nearMisses = new NearMissStore(connections);
        var governance = new GovernanceStore(connections, (session, deviceId) =>
        {
            // Same connection and transaction as the session: labeling is still written per database.
            var s = (PostgresStoreSession)session;
            NpgsqlTransaction tx = s.Transaction ?? throw new InvalidOperationException("erasure runs in a transaction");
            EraseLabelingRows(s.Connection, tx, deviceId);
            nearMisses.EraseDeviceRows(session, deviceId);
        });
        return (governance, new RolloutStore(connections), nearMisses);
    }

    /// <inheritdoc />
    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc) => _governance.DeleteRawAudioReceivedBefore(cutoffUtc);

    /// <inheritdoc />
    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members) => _governance.AddDatasetMembers(datasetId, members);

    /// <inheritdoc />
    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId) => _governance.ReadDatasetMembers(datasetId);

    /// <inheritdoc />
    public void RecordModelDataset(string modelVersion, string datasetId) => _governance.RecordModelDataset(modelVersion, datasetId);

    /// <inheritdoc />
    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc) => _governance.EraseDevice(deviceId, keepCredential, nowUtc);

    /// <inheritdoc />
    public IReadOnlyList<ModelTaint> ReadModelTaints() => _governance.ReadModelTaints();

    /// <inheritdoc />
    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit) => _governance.ReadUncheckedClipPairs(limit);

    /// <inheritdoc />
    public void WriteSkewResult(SkewResult result) => _governance.WriteSkewResult(result);

    /// <inheritdoc />
    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit) => _governance.ReadSkewResults(deviceId, limit);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason) => _rollout.TryAddRegisteredModel(model, package, out reason);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason) =>
        _rollout.TryAddRegisteredModel(model, package, floatWeights, out reason);

    /// <inheritdoc />
    public bool UpdateRegisteredModel(RegisteredModel model) => _rollout.UpdateRegisteredModel(model);

    /// <inheritdoc />
    public IReadOnlyList<RegisteredModel> ReadRegisteredModels() => _rollout.ReadRegisteredModels();

    /// <inheritdoc />
    public bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model) => _rollout.TryGetRegisteredModel(modelVersion, out model);

    /// <inheritdoc />
    public bool TryGetModelPackage(string modelVersion, out ModelPackage? package) => _rollout.TryGetModelPackage(modelVersion, out package);

    /// <inheritdoc />
    public bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights) => _rollout.TryGetModelFloatWeights(modelVersion, out floatWeights);

    /// <inheritdoc />
    public RolloutRecord AddRollout(RolloutRecord rollout) => _rollout.AddRollout(rollout);

    /// <inheritdoc />
    public RolloutRecord? TryUpdateRollout(RolloutRecord rollout) => _rollout.TryUpdateRollout(rollout);

    /// <inheritdoc />
    public IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit) => _rollout.ReadRollouts(activeOnly, limit);

    /// <inheritdoc />
    public bool TryGetRollout(long id, out RolloutRecord? rollout) => _rollout.TryGetRollout(id, out rollout);

    /// <inheritdoc />
    public IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc) => _rollout.ReadModelStatuses(deviceId, receivedAfterUtc);

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        _nearMisses.ReadUnlabelledNearMissClips(limit, featureOnlyReceivedBeforeUtc);

    /// <inheritdoc />
    public string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc) =>
        _nearMisses.WriteNearMissLabel(deviceId, sequence, label, provenance, reviewReason, candidate, labeledUtc);

    /// <inheritdoc />
    public string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        _nearMisses.DecideNearMiss(deviceId, sequence, label, reviewer, nowUtc);

    /// <inheritdoc />
    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit) => _nearMisses.ReadNearMisses(deviceId, limit);

    /// <summary>The store's data source as <see cref="IStoreConnections"/>: every call opens a pooled connection (after the disposed
    /// check, as every other member of this store), reads and writes alike; concurrency between instances is the database's
    /// (transactions, row locks).</summary>
    private sealed class Connections(PostgresGatewayStore store) : IStoreConnections
    {
        public StoreDialect Dialect => StoreDialect.Postgres;

        public T Read<T>(Func<StoreSession, T> read) => Run(read);

        public T Write<T>(Func<StoreSession, T> write) => Run(write);

        private T Run<T>(Func<StoreSession, T> work)
        {
            using NpgsqlConnection db = store.Connection();
            return work(new PostgresStoreSession(db));
        }
    }
}
