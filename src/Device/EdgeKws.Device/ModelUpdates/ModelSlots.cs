using EdgeKws.Detection;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// The device's two model slots (A/B) and the detector running from the active one.
/// </summary>
/// <remarks>
/// This type holds the running state and the order of operations; the parts that change for their
/// own reasons live beside it: the on-disk layout and the <c>active</c> pointer file
/// (<see cref="ModelSlotStore"/>), the checks that make a package trustworthy
/// (<see cref="ModelPackageVerifier"/>), the choice of slot at boot (<see cref="ModelSlotBoot"/>) and
/// the health check (<see cref="ModelHealthCheck"/>).
///
/// Only the <c>active</c> file decides what runs. A slot is a rollback target only while the
/// pointer names it as <c>previous</c>: the pointer drops that name before the idle slot is
/// overwritten and records it again only when a new model has passed every check, so a slot that
/// was half written, or held a model that failed its health check, is never booted or rolled back to.
/// Every boot and every rollback re-verifies the slot (signature, manifest, size, SHA-256, feature
/// config hash, ONNX Runtime load).
///
/// Threads: one thread installs/rolls back (serialized by a lock); the audio thread pushes frames
/// through <see cref="TryPushFrame"/>. The health check runs on the new model's own detector outside
/// the frame lock, so detection continues on the old model until the swap, which is one reference
/// assignment under the lock. Owns and disposes the active detector.
/// </remarks>
public sealed class ModelSlots : IDisposable
{
    public const string ActivePointerFileName = ModelSlotStore.ActivePointerFileName;
    public const string ManifestFileName = ModelSlotStore.ManifestFileName;
    public const string SignatureFileName = ModelSlotStore.SignatureFileName;
    public const string StagingFileName = ModelSlotStore.StagingFileName;

    private readonly ModelSlotsOptions _options;
    private readonly ModelSlotStore _store;
    private readonly ModelPackageVerifier _packages;
    private readonly Lock _frameGate = new();
    private readonly Lock _updateGate = new();

    private ModelSlot? _active;
    private ModelSlot? _previous;
    private KeywordModel? _activeModel;
    private KeywordDetector? _activeDetector;
    private bool _disposed;

    private ModelSlots(ModelSlotsOptions options, ModelSlotStore store, ModelPackageVerifier packages)
    {
        _options = options;
        _store = store;
        _packages = packages;
    }

    /// <summary>The slot the detector runs from; null when no valid model is installed.</summary>
    public ModelSlot? ActiveSlot => _active;

    /// <summary>The vetted slot a <see cref="Rollback"/> would return to; null when there is none.</summary>
    public ModelSlot? PreviousSlot => _previous;

    /// <summary>The slot the next update is written to.</summary>
    public ModelSlot IdleSlot => _active == ModelSlot.A ? ModelSlot.B : ModelSlot.A;

    public KeywordModel? ActiveModel => _activeModel;
    public string? ActiveModelVersion => _activeModel?.Manifest.ModelVersion;

    /// <summary>What the boot found, in one sentence (log it; it says when it fell back and why).</summary>
    public string BootReport { get; private set; } = "";

    /// <summary>True when the boot did not run the slot the pointer named (it was invalid or the pointer was).</summary>
    public bool BootFellBack { get; private set; }

    /// <summary>Measurements of the last health check run by <see cref="TryInstall"/>.</summary>
    public ModelHealthReport? LastHealthReport { get; private set; }

    /// <summary>Short id of the pinned signing key.</summary>
    public string PinnedKeyId => _packages.Signatures.KeyId;

    public string ModelsDirectory => _options.ModelsDirectory;

    public string SlotDirectory(ModelSlot slot) => _store.SlotDirectory(slot);

    /// <summary>
    /// Opens the slot store: loads the pinned key, reads the active pointer and re-verifies that
    /// slot, falling back to the previous slot (and rewriting the pointer) when the active one no
    /// longer verifies. Fails only when the store itself is unusable (bad options, no key, no
    /// directory); "no valid model" is a state, reported by <see cref="BootReport"/>.
    /// </summary>
    public static bool TryOpen(ModelSlotsOptions options, out ModelSlots? slots, out string reason)
    {
        ArgumentNullException.ThrowIfNull(options);
        slots = null;
        // The wire's one spelling (lowercase), as KeywordModel.TryLoad will demand of every model anyway.
        if (!FeatureConfigHash.TryValidate(options.FeatureConfigHash, "the device's feature config hash", out reason))
        {
            return false;
        }
        if (options.ModelBudgetBytes <= 0)
        {
            reason = $"model budget must be positive, got {options.ModelBudgetBytes} bytes";
            return false;
        }
        if (!ManifestVerifier.TryLoad(options.ResolvedPublicKeyPath, out var verifier, out reason)) return false;
        var store = new ModelSlotStore(options.ModelsDirectory);
        if (!store.TryCreateSlotDirectories(out reason))
        {
            verifier!.Dispose();
            return false;
        }
        var s = new ModelSlots(options, store, new ModelPackageVerifier(options, verifier!));
        s.Boot();
        slots = s;
        reason = "";
        return true;
    }

    private void Boot()
    {
        ModelSlotBootDecision decision = ModelSlotBoot.Decide(_store, _packages);
        if (decision.Active is { } active)
        {
            Activate(active, decision.Previous, decision.Model!, decision.Detector!);
        }
        BootFellBack = decision.FellBack;
        BootReport = decision.Report;
    }

    /// <summary>
    /// Installs an update into the idle slot and switches to it, in this order: signature over the
    /// manifest bytes, manifest parse/validate, feature config hash, size budget, write the idle slot
    /// (fsynced), SHA-256 of the written model, ONNX Runtime load, health check (canaries, latency),
    /// atomic pointer switch. Any failure leaves the active model running and the pointer untouched,
    /// wipes the idle slot, and returns the failure with its reason.
    /// </summary>
    public ModelUpdateOutcome TryInstall(ModelUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_updateGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_packages.TryPrecheck(update.Manifest.Span, update.Signature.Span, out var manifest, out var rejected))
            {
                ModelSlotStore.DeleteStaged(update);
                return rejected!;
            }
            string version = manifest!.ModelVersion!;
            if (update.ModelBytes is { } inMemory && inMemory.Length != manifest.SizeBytes)
            {
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.ModelDigestMismatch,
                    $"model is {inMemory.Length} bytes but the signed manifest says {manifest.SizeBytes}", version);
            }

            ModelSlot idle = IdleSlot;

            // The idle slot stops being a rollback target before a byte of it changes.
            if (_previous == idle && _active is { } current)
            {
                if (!_store.TryWritePointer(current, null, out string io))
                {
                    ModelSlotStore.DeleteStaged(update);
                    return ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"cannot update the active pointer: {io}", version);
                }
                _previous = null;
            }

            if (!_store.TryWriteSlot(idle, update, manifest.FileName!, out string writeProblem))
            {
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"writing slot {idle} failed: {writeProblem}", version);
            }

            string modelPath = Path.Combine(_store.SlotDirectory(idle), manifest.FileName!);
            if (!ModelPackageVerifier.TryCheckWrittenModel(modelPath, manifest, out string digestProblem))
            {
                _store.WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.ModelDigestMismatch, digestProblem, version);
            }
            if (!_packages.TryLoad(_store.ManifestPath(idle), out var model, out var detector, out string why))
            {
                _store.WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.LoadFailed, why, version);
            }

            bool healthy = ModelHealthCheck.TryRunOnAgentCanaries(detector!, _options, out var report, out var failure, out why);
            if (report is not null) LastHealthReport = report;
            if (!healthy)
            {
                detector!.Dispose();
                _store.WipeSlot(idle);
                return ModelUpdateOutcome.Fail(failure, why, version);
            }

            if (!_store.TryWritePointer(idle, _active, out string pointerProblem))
            {
                detector!.Dispose();
                _store.WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"cannot switch the active pointer: {pointerProblem}", version);
            }
            Activate(idle, _active, model!, detector!);
            return ModelUpdateOutcome.Ok(version);
        }
    }

    /// <summary>
    /// Switches back to the previous slot if it still holds a vetted model that re-verifies
    /// (signature, digest, load); the current slot becomes the previous one, so a rollback can be
    /// undone the same way.
    /// </summary>
    public ModelUpdateOutcome Rollback()
    {
        lock (_updateGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_previous is not { } prev)
            {
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.NoPreviousModel,
                    "no previous slot holds a vetted model (none installed yet, or the idle slot was overwritten since)", null);
            }
            if (!_packages.TryVerifySlot(_store, prev, out var model, out var detector, out string why))
            {
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.NoPreviousModel, $"previous slot {prev} no longer verifies: {why}", null);
            }
            string version = model!.Manifest.ModelVersion!;
            if (!_store.TryWritePointer(prev, _active, out string io))
            {
                detector!.Dispose();
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"cannot switch the active pointer: {io}", version);
            }
            string from = $"slot {_active} ({ActiveModelVersion})";
            Activate(prev, _active, model, detector!);
            return ModelUpdateOutcome.RolledBackTo(version, $"switched from {from} back to slot {prev} ({version}), re-verified");
        }
    }

    /// <summary>
    /// Pushes one MFCC frame to the active model's detector (see <see cref="KeywordDetector.TryPushFrame"/>).
    /// False when no model is active. Allocation-free; takes an uncontended lock per frame.
    /// </summary>
    public bool TryPushFrame(ReadOnlySpan<float> mfcc, out DetectionEvent detection)
    {
        lock (_frameGate)
        {
            if (_activeDetector is null)
            {
                detection = default;
                return false;
            }
            return _activeDetector.TryPushFrame(mfcc, out detection);
        }
    }

    /// <summary>The status message for the current state and the last outcome (null: a plain report). False when no model is active.</summary>
    public bool TryCreateStatus(string deviceId, ModelUpdateOutcome? lastOutcome, DateTimeOffset deviceTimeUtc, out ModelStatus? status)
    {
        if (_active is not { } slot || ActiveModelVersion is not { } version)
        {
            status = null;
            return false;
        }
        status = lastOutcome is null
            ? new ModelStatus
            {
                DeviceId = deviceId,
                DeviceTimeUtc = deviceTimeUtc,
                ActiveSlot = slot,
                ActiveModelVersion = ModelUpdateOutcome.WireVersion(version),
                UpdateResult = ModelUpdateResult.None,
            }
            : lastOutcome.ToModelStatus(deviceId, deviceTimeUtc, slot, version);
        return true;
    }

    /// <summary>
    /// The checks that need only the manifest and its signature, shared by <see cref="TryInstall"/>
    /// and the receiver (which runs them on the offer, before any chunk is accepted).
    /// </summary>
    internal bool TryPrecheck(ReadOnlySpan<byte> manifestBytes, ReadOnlySpan<byte> signature,
        out ModelManifest? manifest, out ModelUpdateOutcome? rejected) =>
        _packages.TryPrecheck(manifestBytes, signature, out manifest, out rejected);

    private void Activate(ModelSlot slot, ModelSlot? previous, KeywordModel model, KeywordDetector detector)
    {
        KeywordDetector? old;
        lock (_frameGate)
        {
            old = _activeDetector;
            _activeDetector = detector;
            _activeModel = model;
            _active = slot;
            _previous = previous;
        }
        old?.Dispose();
    }

    public void Dispose()
    {
        lock (_updateGate)
        {
            if (_disposed) return;
            _disposed = true;
            lock (_frameGate)
            {
                _activeDetector?.Dispose();
                _activeDetector = null;
                _activeModel = null;
            }
            _packages.Dispose();
        }
    }
}
