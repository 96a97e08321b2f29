using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.IngestBench;

/// <summary>Wraps the real store and records, for every stored (device, sequence), the moment its batch's
/// <see cref="IIngestStore.WriteBatch"/> returned, i.e. its transaction committed. Same process and monotonic clock as
/// the simulated devices, so publish-to-commit latency needs no clock synchronisation.</summary>
internal sealed class TimingStore(IGatewayStore inner) : IGatewayStore
{
    public ConcurrentDictionary<(string Device, long Seq), long> CommittedAt { get; } = new();

    public void WriteBatch(ReadOnlySpan<StoreWrite> writes, Span<IngestResult> results)
    {
        inner.WriteBatch(writes, results);
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < writes.Length; i++)
        {
            if (results[i].Outcome == IngestOutcome.Stored && writes[i].Message is { Sequence: { } seq } m)
            {
                CommittedAt.TryAdd((m.DeviceId, seq), now);
            }
        }
    }

    public void SetDeviceCredential(string deviceId, PasswordHash credential) => inner.SetDeviceCredential(deviceId, credential);

    public bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential) => inner.TryGetDeviceCredential(deviceId, out credential);

    public IReadOnlyList<DeviceRecord> ReadDevices() => inner.ReadDevices();

    public IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit) => inner.ReadQuarantine(afterId, limit);

    public IReadOnlyList<long> ReadSequences(string deviceId) => inner.ReadSequences(deviceId);

    public StoreCounts Count() => inner.Count();

    public bool SetDeviceCohort(string deviceId, string? cohort) => inner.SetDeviceCohort(deviceId, cohort);

    public IReadOnlyDictionary<string, string> ReadCohorts() => inner.ReadCohorts();

    public IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query) => inner.ReadDetections(query);

    public IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels) => inner.WriteLabels(labels);

    public IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit) => inner.ReadLabels(deviceId, limit);

    public long CountReviewQueue() => inner.CountReviewQueue();

    public IReadOnlyList<ActivityRow> ReadActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket) => inner.ReadActivity(fromUtc, toUtc, bucket);

    public IReadOnlyList<StoredSketch> ReadSketches(DateTimeOffset fromUtc, DateTimeOffset toUtc, string? modelVersion) =>
        inner.ReadSketches(fromUtc, toUtc, modelVersion);

    public IReadOnlyList<ModelRecord> ReadModels() => inner.ReadModels();

    public void SetModelBaseline(string modelVersion, DriftSketch baseline, DateTimeOffset nowUtc) => inner.SetModelBaseline(modelVersion, baseline, nowUtc);

    public bool TryGetModelBaseline(string modelVersion, out DriftSketch? baseline) => inner.TryGetModelBaseline(modelVersion, out baseline);

    public long AddEvaluation(EvaluationRecord evaluation) => inner.AddEvaluation(evaluation);

    public IReadOnlyList<EvaluationRecord> ReadEvaluations(string? modelVersion, int limit) => inner.ReadEvaluations(modelVersion, limit);

    public IngestCounts CountIngest(DateTimeOffset fromUtc, DateTimeOffset toUtc) => inner.CountIngest(fromUtc, toUtc);

    public void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc) => inner.ApplyAlerts(firing, nowUtc);

    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc) => inner.DeleteRawAudioReceivedBefore(cutoffUtc);

    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members) => inner.AddDatasetMembers(datasetId, members);

    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId) => inner.ReadDatasetMembers(datasetId);

    public void RecordModelDataset(string modelVersion, string datasetId) => inner.RecordModelDataset(modelVersion, datasetId);

    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc) => inner.EraseDevice(deviceId, keepCredential, nowUtc);

    public IReadOnlyList<ModelTaint> ReadModelTaints() => inner.ReadModelTaints();

    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit) => inner.ReadUncheckedClipPairs(limit);

    public void WriteSkewResult(SkewResult result) => inner.WriteSkewResult(result);

    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit) => inner.ReadSkewResults(deviceId, limit);

    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason) => inner.TryAddRegisteredModel(model, package, out reason);

    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason) =>
        inner.TryAddRegisteredModel(model, package, floatWeights, out reason);

    public bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights) => inner.TryGetModelFloatWeights(modelVersion, out floatWeights);

    public bool UpdateRegisteredModel(RegisteredModel model) => inner.UpdateRegisteredModel(model);

    public IReadOnlyList<RegisteredModel> ReadRegisteredModels() => inner.ReadRegisteredModels();

    public bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model) => inner.TryGetRegisteredModel(modelVersion, out model);

    public bool TryGetModelPackage(string modelVersion, out ModelPackage? package) => inner.TryGetModelPackage(modelVersion, out package);

    public RolloutRecord AddRollout(RolloutRecord rollout) => inner.AddRollout(rollout);

    public RolloutRecord? TryUpdateRollout(RolloutRecord rollout) => inner.TryUpdateRollout(rollout);

    public IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit) => inner.ReadRollouts(activeOnly, limit);

    public bool TryGetRollout(long id, out RolloutRecord? rollout) => inner.TryGetRollout(id, out rollout);

    public IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc) => inner.ReadModelStatuses(deviceId, receivedAfterUtc);

    public IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit) => inner.ReadAlerts(activeOnly, limit);

    // Labeling members (schema step 4): plain forwarding.
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        inner.ReadUnlabelledTriggerClips(limit, featureOnlyReceivedBeforeUtc);

    public string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId) =>
        inner.WriteAutomaticLabel(label, provenance, reviewReason, candidate, clipId);

    public IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc) =>
        inner.ReadUnlabelledNearMissClips(limit, featureOnlyReceivedBeforeUtc);

    public string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc) =>
        inner.WriteNearMissLabel(deviceId, sequence, label, provenance, reviewReason, candidate, labeledUtc);

    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit) => inner.ReadNearMisses(deviceId, limit);

    public string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        inner.DecideNearMiss(deviceId, sequence, label, reviewer, nowUtc);

    public IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit) => inner.ReadFieldClips(afterDeviceId, afterSequence, limit);

    public IReadOnlyList<RecallRow> ReadRecallActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket) => inner.ReadRecallActivity(fromUtc, toUtc, bucket);

    public bool AdvanceModelLoopBaseline(ModelLoopBaseline baseline) => inner.AdvanceModelLoopBaseline(baseline);

    public bool TryGetModelLoopBaseline(out ModelLoopBaseline? baseline) => inner.TryGetModelLoopBaseline(out baseline);

    public bool TryAddLabelingModel(LabelingModelRecord record, byte[] content) => inner.TryAddLabelingModel(record, content);

    public bool TryGetLabelingModelContent(string sha256, out byte[]? content) => inner.TryGetLabelingModelContent(sha256, out content);

    public IReadOnlyList<LabelingModelRecord> ReadLabelingModels() => inner.ReadLabelingModels();

    public IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit) => inner.ReadReviewQueue(limit);

    public string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        inner.DecideReview(deviceId, sequence, label, reviewer, nowUtc);

    public byte[]? ReadClipAudio(string deviceId, string clipId) => inner.ReadClipAudio(deviceId, clipId);

    public IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit) => inner.ReadLabelsWithProvenance(deviceId, limit);

    public IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed) => inner.SampleForReReview(reviewer, count, seed);

    public string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc) =>
        inner.AddReReview(deviceId, sequence, label, reviewer, nowUtc);

    public AgreementCounts ReadAgreement() => inner.ReadAgreement();

    public IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit) => inner.ReadLabelledClips(afterDeviceId, afterSequence, limit);

    // Access members (schema step 6): plain forwarding.
    public long AddApiToken(string name, EdgeKws.Gateway.Security.ApiRole role, byte[] tokenSha256, DateTimeOffset createdUtc, string createdBy) =>
        inner.AddApiToken(name, role, tokenSha256, createdUtc, createdBy);

    public bool TryGetActiveApiToken(byte[] tokenSha256, out ApiTokenRecord? token) => inner.TryGetActiveApiToken(tokenSha256, out token);

    public IReadOnlyList<ApiTokenRecord> ReadApiTokens(bool includeRevoked) => inner.ReadApiTokens(includeRevoked);

    public bool RevokeApiToken(long id, DateTimeOffset revokedUtc) => inner.RevokeApiToken(id, revokedUtc);

    public long AppendAudit(AuditEntry entry) => inner.AppendAudit(entry);

    public IReadOnlyList<AuditRecord> ReadAudit(long? beforeId, int limit) => inner.ReadAudit(beforeId, limit);

    // Heartbeat totals members (schema step 7): plain forwarding.
    public HeartbeatTotalsRecord? ReadLatestHeartbeatTotals(string deviceId, DateTimeOffset beforeUtc) => inner.ReadLatestHeartbeatTotals(deviceId, beforeUtc);

    public LegacyHeartbeatLosses ReadLegacyHeartbeatLosses(string deviceId, DateTimeOffset fromUtc, DateTimeOffset toUtc) =>
        inner.ReadLegacyHeartbeatLosses(deviceId, fromUtc, toUtc);

    public void Dispose() => inner.Dispose();
}
