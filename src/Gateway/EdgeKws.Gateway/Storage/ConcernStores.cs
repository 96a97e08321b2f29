using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The concerns written once for both databases (docs/gateway.md, "Store layout"): <see cref="SqliteGatewayStore"/> and
/// <see cref="PostgresGatewayStore"/> derive from this, lend the concerns their connections once
/// (<see cref="InitializeConcerns"/>), and this class forwards the concerns' members, so moving the next concern touches
/// this file and not one copy per database.
/// </summary>
public abstract class ConcernStores : IIngestStore, IGovernanceStore, IRolloutStore, INearMissStore, ILabelingStore, IHeartbeatTotalsStore, IFieldClipStore, IModelLoopStore, ILabelingModelStore, IAccessStore, IMonitoringStore,
    IDetectionLabelStore, IAlertStore
{
    private IngestStore? _ingest;
    private GovernanceStore? _governance;
    private RolloutStore? _rollout;
    private NearMissStore? _nearMisses;
    private LabelingStore? _labeling;
    private HeartbeatTotalsStore? _heartbeatTotals;
    private FieldClipStore? _fieldClips;
    private ModelLoopStore? _modelLoop;
    private LabelingModelStore? _labelingModels;
    private AccessStore? _access;
    private MonitoringStore? _monitoring;
    private DetectionLabelStore? _detectionLabels;
    private AlertStore? _alerts;

    private IngestStore Ingest => _ingest ?? throw NotInitialized();
    private GovernanceStore Governance => _governance ?? throw NotInitialized();
    private RolloutStore Rollout => _rollout ?? throw NotInitialized();
    private NearMissStore NearMisses => _nearMisses ?? throw NotInitialized();
    private LabelingStore Labeling => _labeling ?? throw NotInitialized();
    private HeartbeatTotalsStore HeartbeatTotals => _heartbeatTotals ?? throw NotInitialized();
    private FieldClipStore FieldClips => _fieldClips ?? throw NotInitialized();
    private ModelLoopStore ModelLoop => _modelLoop ?? throw NotInitialized();
    private LabelingModelStore LabelingModels => _labelingModels ?? throw NotInitialized();
    private AccessStore Access => _access ?? throw NotInitialized();
    private MonitoringStore Monitoring => _monitoring ?? throw NotInitialized();
    private DetectionLabelStore DetectionLabels => _detectionLabels ?? throw NotInitialized();
    private AlertStore Alerts => _alerts ?? throw NotInitialized();

    /// <summary>Only the two stores of this assembly derive from it.</summary>
    private protected ConcernStores()
    {
    }

    /// <summary>Called once by the derived store's constructor, when its connections exist.</summary>
    private protected void InitializeConcerns(IStoreConnections connections, int quarantineMaxPayloadBytes)
    {
        if (_governance is not null)
        {
            throw new InvalidOperationException("the concerns are initialised once");
        }
        _ingest = new IngestStore(connections, quarantineMaxPayloadBytes);
        _nearMisses = new NearMissStore(connections);
        _labeling = new LabelingStore(connections);
        _governance = new GovernanceStore(connections, _labeling, _nearMisses);
        _rollout = new RolloutStore(connections);
        _heartbeatTotals = new HeartbeatTotalsStore(connections);
        _fieldClips = new FieldClipStore(connections);
        _modelLoop = new ModelLoopStore(connections);
        _labelingModels = new LabelingModelStore(connections);
        _access = new AccessStore(connections);
        _monitoring = new MonitoringStore(connections);
        _detectionLabels = new DetectionLabelStore(connections);
        _alerts = new AlertStore(connections);
    }

    private static InvalidOperationException NotInitialized() =>
        new("the store's constructor did not call InitializeConcerns (a derived store's bug)");

    /// <inheritdoc />
    public void WriteBatch(ReadOnlySpan<StoreWrite> writes, Span<IngestResult> results) => Ingest.WriteBatch(writes, results);

    /// <inheritdoc />
    public void SetDeviceCredential(string deviceId, PasswordHash credential) => Ingest.SetDeviceCredential(deviceId, credential);

    /// <inheritdoc />
    public bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential) => Ingest.TryGetDeviceCredential(deviceId, out credential);

    /// <inheritdoc />
    public IReadOnlyList<DeviceRecord> ReadDevices() => Ingest.ReadDevices();

    /// <inheritdoc />
    public IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit) => Ingest.ReadQuarantine(afterId, limit);

    /// <inheritdoc />
    public IReadOnlyList<long> ReadSequences(string deviceId) => Ingest.ReadSequences(deviceId);

    /// <inheritdoc />
    public StoreCounts Count() => Ingest.Count();

    /// <inheritdoc />
    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc) => Governance.DeleteRawAudioReceivedBefore(cutoffUtc);

    /// <inheritdoc />
    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members) => Governance.AddDatasetMembers(datasetId, members);

    /// <inheritdoc />
    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId) => Governance.ReadDatasetMembers(datasetId);

    /// <inheritdoc />
    public void RecordModelDataset(string modelVersion, string datasetId) => Governance.RecordModelDataset(modelVersion, datasetId);

    /// <inheritdoc />
    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc) => Governance.EraseDevice(deviceId, keepCredential, nowUtc);

    /// <inheritdoc />
    public IReadOnlyList<ModelTaint> ReadModelTaints() => Governance.ReadModelTaints();

    /// <inheritdoc />
    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit) => Governance.ReadUncheckedClipPairs(limit);

    /// <inheritdoc />
    public void WriteSkewResult(SkewResult result) => Governance.WriteSkewResult(result);

    /// <inheritdoc />
    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit) => Governance.ReadSkewResults(deviceId, limit);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason) => Rollout.TryAddRegisteredModel(model, package, out reason);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason) =>
        Rollout.TryAddRegisteredModel(model, package, floatWeights, out reason);

    /// <inheritdoc />
    public bool UpdateRegisteredModel(RegisteredModel model) => Rollout.UpdateRegisteredModel(model);

    /// <inheritdoc />
    public IReadOnlyList<RegisteredModel> ReadRegisteredModels() => Rollout.ReadRegisteredModels();

    /// <inheritdoc />
    public bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model) => Rollout.TryGetRegisteredModel(modelVersion, out model);

    /// <inheritdoc />
    public bool TryGetModelPackage(string modelVersion, out ModelPackage? package) => Rollout.TryGetModelPackage(modelVersion, out package);

    /// <inheritdoc />
    public bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights) => Rollout.TryGetModelFloatWeights(modelVersion, out floatWeights);

    /// <inheritdoc />
    public RolloutRecord AddRollout(RolloutRecord rollout) => Rollout.AddRollout(rollout);

    /// <inheritdoc />
    public RolloutRecord? TryUpdateRollout(RolloutRecord rollout) => Rollout.TryUpdateRollout(rollout);

    /// <inheritdoc />
    public IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit) => Rollout.ReadRollouts(activeOnly, limit);

    /// <inheritdoc />
    public bool TryGetRollout(long id, out RolloutRecord? rollout) => Rollout.TryGetRollout(id, out rollout);

    /// <inheritdoc />
    public IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc) => Rollout.ReadModelStatuses(deviceId, receivedAfterUtc);

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        NearMisses.ReadUnlabelledNearMissClips(limit, featureOnlyReceivedBeforeUtc);

    /// <inheritdoc />
    public string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc) =>
        NearMisses.WriteNearMissLabel(deviceId, sequence, label, provenance, reviewReason, candidate, labeledUtc);

    /// <inheritdoc />
    public string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        NearMisses.DecideNearMiss(deviceId, sequence, label, reviewer, nowUtc);

    /// <inheritdoc />
    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit) => NearMisses.ReadNearMisses(deviceId, limit);

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        Labeling.ReadUnlabelledTriggerClips(limit, featureOnlyReceivedBeforeUtc);

    /// <inheritdoc />
    public string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId) =>
        Labeling.WriteAutomaticLabel(label, provenance, reviewReason, candidate, clipId);

    /// <inheritdoc />
    public IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit) => Labeling.ReadReviewQueue(limit);

    /// <inheritdoc />
    public string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        Labeling.DecideReview(deviceId, sequence, label, reviewer, nowUtc);

    /// <inheritdoc />
    public byte[]? ReadClipAudio(string deviceId, string clipId) => Labeling.ReadClipAudio(deviceId, clipId);

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit) => Labeling.ReadLabelsWithProvenance(deviceId, limit);

    /// <inheritdoc />
    public IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed) => Labeling.SampleForReReview(reviewer, count, seed);

    /// <inheritdoc />
    public string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        Labeling.AddReReview(deviceId, sequence, label, reviewer, nowUtc);

    /// <inheritdoc />
    public AgreementCounts ReadAgreement() => Labeling.ReadAgreement();

    /// <inheritdoc />
    public IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit) => Labeling.ReadLabelledClips(afterDeviceId, afterSequence, limit);

    /// <inheritdoc />
    public HeartbeatTotalsRecord? ReadLatestHeartbeatTotals(string deviceId, DateTimeOffset beforeUtc) => HeartbeatTotals.ReadLatestHeartbeatTotals(deviceId, beforeUtc);

    /// <inheritdoc />
    public LegacyHeartbeatLosses ReadLegacyHeartbeatLosses(string deviceId, DateTimeOffset fromUtc, DateTimeOffset toUtc) =>
        HeartbeatTotals.ReadLegacyHeartbeatLosses(deviceId, fromUtc, toUtc);

    /// <inheritdoc />
    public IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit) => FieldClips.ReadFieldClips(afterDeviceId, afterSequence, limit);

    /// <inheritdoc />
    public IReadOnlyList<RecallRow> ReadRecallActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket) => ModelLoop.ReadRecallActivity(fromUtc, toUtc, bucket);

    /// <inheritdoc />
    public bool AdvanceModelLoopBaseline(ModelLoopBaseline baseline) => ModelLoop.AdvanceModelLoopBaseline(baseline);

    /// <inheritdoc />
    public bool TryGetModelLoopBaseline(out ModelLoopBaseline? baseline) => ModelLoop.TryGetModelLoopBaseline(out baseline);

    /// <inheritdoc />
    public bool TryAddLabelingModel(LabelingModelRecord record, byte[] content) => LabelingModels.TryAddLabelingModel(record, content);

    /// <inheritdoc />
    public IReadOnlyList<LabelingModelRecord> ReadLabelingModels() => LabelingModels.ReadLabelingModels();

    /// <inheritdoc />
    public bool TryGetLabelingModelContent(string sha256, out byte[]? content) => LabelingModels.TryGetLabelingModelContent(sha256, out content);

    /// <inheritdoc />
    public long AddApiToken(string name, ApiRole role, byte[] tokenSha256, DateTimeOffset createdUtc, string createdBy) =>
        Access.AddApiToken(name, role, tokenSha256, createdUtc, createdBy);

    /// <inheritdoc />
    public bool TryGetActiveApiToken(byte[] tokenSha256, out ApiTokenRecord? token) => Access.TryGetActiveApiToken(tokenSha256, out token);

    /// <inheritdoc />
    public IReadOnlyList<ApiTokenRecord> ReadApiTokens(bool includeRevoked) => Access.ReadApiTokens(includeRevoked);

    /// <inheritdoc />
    public bool RevokeApiToken(long id, DateTimeOffset revokedUtc) => Access.RevokeApiToken(id, revokedUtc);

    /// <inheritdoc />
    public long AppendAudit(AuditEntry entry) => Access.AppendAudit(entry);

    /// <inheritdoc />
    public IReadOnlyList<AuditRecord> ReadAudit(long? beforeId, int limit) => Access.ReadAudit(beforeId, limit);

    /// <inheritdoc />
    public bool SetDeviceCohort(string deviceId, string? cohort) => Monitoring.SetDeviceCohort(deviceId, cohort);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ReadCohorts() => Monitoring.ReadCohorts();

    /// <inheritdoc />
    public IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query) => DetectionLabels.ReadDetections(query);

    /// <inheritdoc />
    public IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels) => DetectionLabels.WriteLabels(labels);

    /// <inheritdoc />
    public IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit) => DetectionLabels.ReadLabels(deviceId, limit);

    /// <inheritdoc />
    public long CountReviewQueue() => DetectionLabels.CountReviewQueue();

    /// <inheritdoc />
    public IReadOnlyList<ActivityRow> ReadActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket) => Monitoring.ReadActivity(fromUtc, toUtc, bucket);

    /// <inheritdoc />
    public IReadOnlyList<StoredSketch> ReadSketches(DateTimeOffset fromUtc, DateTimeOffset toUtc, string? modelVersion) => Monitoring.ReadSketches(fromUtc, toUtc, modelVersion);

    /// <inheritdoc />
    public IReadOnlyList<ModelRecord> ReadModels() => Monitoring.ReadModels();

    /// <inheritdoc />
    public void SetModelBaseline(string modelVersion, DriftSketch baseline, DateTimeOffset nowUtc) => Monitoring.SetModelBaseline(modelVersion, baseline, nowUtc);

    /// <inheritdoc />
    public bool TryGetModelBaseline(string modelVersion, out DriftSketch? baseline) => Monitoring.TryGetModelBaseline(modelVersion, out baseline);

    /// <inheritdoc />
    public long AddEvaluation(EvaluationRecord evaluation) => Monitoring.AddEvaluation(evaluation);

    /// <inheritdoc />
    public IReadOnlyList<EvaluationRecord> ReadEvaluations(string? modelVersion, int limit) => Monitoring.ReadEvaluations(modelVersion, limit);

    /// <inheritdoc />
    public IngestCounts CountIngest(DateTimeOffset fromUtc, DateTimeOffset toUtc) => Monitoring.CountIngest(fromUtc, toUtc);

    /// <inheritdoc />
    public void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc) => Alerts.ApplyAlerts(firing, nowUtc);

    /// <inheritdoc />
    public IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit) => Alerts.ReadAlerts(activeOnly, limit);
}
