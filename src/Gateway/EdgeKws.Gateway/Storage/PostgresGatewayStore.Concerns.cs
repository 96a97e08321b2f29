using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>The concerns written once for both databases (docs/gateway.md, "Store layout"): this store lends them its connections
/// and forwards their members.</summary>
public sealed partial class PostgresGatewayStore
{
    private readonly GovernanceStore _governance;
    private readonly RolloutStore _rollout;
    private readonly NearMissStore _nearMisses;
    private readonly LabelingStore _labeling;

    /// <summary>Called once by the constructor.</summary>
    private (GovernanceStore, RolloutStore, NearMissStore, LabelingStore) CreateConcerns()
    {
        var connections = new Connections(this);
        var nearMisses = new NearMissStore(connections);
        var labeling = new LabelingStore(connections);
        return (new GovernanceStore(connections, labeling, nearMisses), new RolloutStore(connections), nearMisses, labeling);
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

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        _labeling.ReadUnlabelledTriggerClips(limit, featureOnlyReceivedBeforeUtc);

    /// <inheritdoc />
    public string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId) =>
        _labeling.WriteAutomaticLabel(label, provenance, reviewReason, candidate, clipId);

    /// <inheritdoc />
    public IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit) => _labeling.ReadReviewQueue(limit);

    /// <inheritdoc />
    public string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        _labeling.DecideReview(deviceId, sequence, label, reviewer, nowUtc);

    /// <inheritdoc />
    public byte[]? ReadClipAudio(string deviceId, string clipId) => _labeling.ReadClipAudio(deviceId, clipId);

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit) => _labeling.ReadLabelsWithProvenance(deviceId, limit);

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed) => _labeling.SampleForReReview(reviewer, count, seed);

    /// <inheritdoc />
    public string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        _labeling.AddReReview(deviceId, sequence, label, reviewer, nowUtc);

    /// <inheritdoc />
    public AgreementCounts ReadAgreement() => _labeling.ReadAgreement();

    /// <inheritdoc />
    public IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit) => _labeling.ReadLabelledClips(afterDeviceId, afterSequence, limit);

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
