using System.Security.Cryptography;
using System.Text;
using EdgeKws.Detection;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Signing;

namespace EdgeKws.Device.Models;

/// <summary>
/// The device's two model slots (A/B) and the detector running from the active one.
/// </summary>
/// <remarks>
/// Layout under <c>{state}/models/</c>:
/// <code>
/// active            "active=A\nprevious=B\n" (previous=- when none); replaced atomically
/// A/manifest.json   the signed manifest, byte for byte as received
/// A/manifest.sig    its 64-byte ECDSA P-256 P1363 signature
/// A/{fileName}      the model, named by the manifest
/// B/...             the same; B/incoming.part while a transfer is being assembled
/// </code>
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
    public const string ActivePointerFileName = "active";
    public const string ManifestFileName = "manifest.json";
    public const string SignatureFileName = "manifest.sig";
    public const string StagingFileName = "incoming.part";

    private readonly ModelSlotsOptions _options;
    private readonly ManifestVerifier _verifier;
    private readonly Lock _frameGate = new();
    private readonly Lock _updateGate = new();

    private ModelSlot? _active;
    private ModelSlot? _previous;
    private KeywordModel? _activeModel;
    private KeywordDetector? _activeDetector;
    private bool _disposed;

    private ModelSlots(ModelSlotsOptions options, ManifestVerifier verifier)
    {
        _options = options;
        _verifier = verifier;
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
    public string PinnedKeyId => _verifier.KeyId;

    public string ModelsDirectory => _options.ModelsDirectory;

    internal ModelSlotsOptions Options => _options;
    internal ManifestVerifier Verifier => _verifier;

    public string SlotDirectory(ModelSlot slot) => Path.Combine(_options.ModelsDirectory, slot.ToString());

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
        try
        {
            Directory.CreateDirectory(Path.Combine(options.ModelsDirectory, nameof(ModelSlot.A)));
            Directory.CreateDirectory(Path.Combine(options.ModelsDirectory, nameof(ModelSlot.B)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            verifier!.Dispose();
            reason = $"cannot create the model slot folders under {options.ModelsDirectory}: {ex.Message}";
            return false;
        }
        var s = new ModelSlots(options, verifier!);
        s.Boot();
        slots = s;
        reason = "";
        return true;
    }

    private void Boot()
    {
        string pointerPath = Path.Combine(_options.ModelsDirectory, ActivePointerFileName);
        if (!File.Exists(pointerPath))
        {
            BootReport = "no model installed (no active pointer); waiting for a signed model update";
            return;
        }
        if (TryReadPointer(pointerPath, out ModelSlot active, out ModelSlot? previous, out string pointerProblem))
        {
            if (TryVerifySlot(active, out var model, out var detector, out string why))
            {
                Activate(active, previous, model!, detector!);
                BootReport = $"slot {active} active: model {model!.Manifest.ModelVersion} verified";
                return;
            }
            if (previous is { } prev && TryVerifySlot(prev, out model, out detector, out string whyPrev))
            {
                if (!TryWritePointer(prev, null, out string io))
                {
                    detector!.Dispose();
                    BootReport = $"active slot {active} failed verification ({why}); slot {prev} verifies but the pointer cannot be rewritten ({io}); no model running";
                    return;
                }
                Activate(prev, null, model!, detector!);
                BootFellBack = true;
                BootReport = $"active slot {active} failed verification ({why}); fell back to slot {prev}: model {model!.Manifest.ModelVersion}";
                return;
            }
            BootReport = previous is null
                ? $"active slot {active} failed verification ({why}) and no previous slot is recorded; no model running"
                : $"active slot {active} failed verification ({why}) and so did previous slot {previous} ({ReasonOf(previous.Value)}); no model running";
            return;
        }

        // The pointer is written atomically, so a bad one means outside damage: run whichever slot
        // verifies (the newer one if both do) rather than nothing, and say so.
        ModelSlot? chosen = null;
        KeywordModel? best = null;
        KeywordDetector? bestDetector = null;
        foreach (ModelSlot slot in (ReadOnlySpan<ModelSlot>)[ModelSlot.A, ModelSlot.B])
        {
            if (!TryVerifySlot(slot, out var m, out var d, out _)) continue;
            if (best is null || m!.Manifest.CreatedUtc > best.Manifest.CreatedUtc)
            {
                bestDetector?.Dispose();
                (chosen, best, bestDetector) = (slot, m, d);
            }
            else
            {
                d!.Dispose();
            }
        }
        BootFellBack = true;
        if (chosen is { } c && TryWritePointer(c, null, out _))
        {
            Activate(c, null, best!, bestDetector!);
            BootReport = $"active pointer unreadable ({pointerProblem}); slot {c} verifies and is now active: model {best!.Manifest.ModelVersion}";
            return;
        }
        bestDetector?.Dispose();
        BootReport = $"active pointer unreadable ({pointerProblem}) and no slot verifies; no model running";
    }

    private string ReasonOf(ModelSlot slot)
    {
        if (TryVerifySlot(slot, out _, out var d, out string why))
        {
            d!.Dispose();
            return "verifies";
        }
        return why;
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
            if (!TryPrecheck(update.Manifest.Span, update.Signature.Span, out var manifest, out var rejected))
            {
                DeleteStaged(update);
                return rejected!;
            }
            string version = manifest!.ModelVersion!;
            if (update.ModelBytes is { } inMemory && inMemory.Length != manifest.SizeBytes)
            {
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.ModelDigestMismatch,
                    $"model is {inMemory.Length} bytes but the signed manifest says {manifest.SizeBytes}", version);
            }

            ModelSlot idle = IdleSlot;
            string dir = SlotDirectory(idle);
            string manifestPath = Path.Combine(dir, ManifestFileName);
            string modelPath = Path.Combine(dir, manifest.FileName!);

            // The idle slot stops being a rollback target before a byte of it changes.
            if (_previous == idle && _active is { } current)
            {
                if (!TryWritePointer(current, null, out string io))
                {
                    DeleteStaged(update);
                    return ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"cannot update the active pointer: {io}", version);
                }
                _previous = null;
            }

            try
            {
                ClearSlot(idle, keep: update.StagedModelPath);
                if (update.ModelBytes is { } bytes)
                {
                    DurableFile.WriteAtomically(modelPath, bytes);
                }
                else
                {
                    string staged = Path.GetFullPath(update.StagedModelPath!);
                    DurableFile.Fsync(staged);
                    if (string.Equals(Path.GetDirectoryName(staged), Path.GetFullPath(dir), StringComparison.Ordinal))
                    {
                        File.Move(staged, modelPath, overwrite: true);
                    }
                    else
                    {
                        File.Copy(staged, modelPath, overwrite: true);
                        DurableFile.Fsync(modelPath);
                        File.Delete(staged);
                    }
                }
                DurableFile.WriteAtomically(Path.Combine(dir, SignatureFileName), update.Signature.Span);
                DurableFile.WriteAtomically(manifestPath, update.Manifest.Span);
                DurableFile.FsyncDirectory(dir);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"writing slot {idle} failed: {ex.Message}", version);
            }

            if (!TryCheckWrittenModel(modelPath, manifest, out string digestProblem))
            {
                WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.ModelDigestMismatch, digestProblem, version);
            }
            if (!KeywordModel.TryLoad(manifestPath, _options.FeatureConfigHash, _options.ModelBudgetBytes, out var model, out string why)
                || !KeywordDetector.TryCreate(model!, _options.DetectorOptions, out var detector, out why))
            {
                WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.LoadFailed, why, version);
            }

            string canaryDir = _options.ResolvedCanaryDirectory;
            if (!ModelCanary.TryLoad(Path.Combine(canaryDir, ModelCanary.PositiveFileName), _options.FeatureConfigHash, out var positive, out why)
                || !ModelCanary.TryLoad(Path.Combine(canaryDir, ModelCanary.NegativeFileName), _options.FeatureConfigHash, out var negative, out why))
            {
                detector!.Dispose();
                WipeSlot(idle);
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.CanaryUnavailable, why, version);
            }
            bool healthy = ModelHealthCheck.TryRun(detector!, positive!, negative!, _options.HealthCheck,
                out var report, out var failure, out why);
            LastHealthReport = report;
            if (!healthy)
            {
                detector!.Dispose();
                WipeSlot(idle);
                return ModelUpdateOutcome.Fail(failure, why, version);
            }

            if (!TryWritePointer(idle, _active, out string pointerProblem))
            {
                detector!.Dispose();
                WipeSlot(idle);
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
            if (!TryVerifySlot(prev, out var model, out var detector, out string why))
            {
                return ModelUpdateOutcome.Fail(ModelUpdateFailure.NoPreviousModel, $"previous slot {prev} no longer verifies: {why}", null);
            }
            string version = model!.Manifest.ModelVersion!;
            if (!TryWritePointer(prev, _active, out string io))
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
        out ModelManifest? manifest, out ModelUpdateOutcome? rejected)
    {
        manifest = null;
        if (!_verifier.Verify(manifestBytes, signature, out string why))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.SignatureInvalid, why, null);
            return false;
        }
        if (!ModelManifest.TryParse(manifestBytes, out var m, out why) || !m!.TryValidate(out why))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.ManifestInvalid, why, m?.ModelVersion);
            return false;
        }
        string version = m.ModelVersion!;
        if (m.FileName is ManifestFileName or SignatureFileName or StagingFileName or ActivePointerFileName
            || m.FileName!.EndsWith(".tmp", StringComparison.Ordinal))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.ManifestInvalid,
                $"'fileName' '{m.FileName}' collides with a slot bookkeeping file", version);
            return false;
        }
        if (!string.Equals(m.FeatureConfigHash, _options.FeatureConfigHash, StringComparison.OrdinalIgnoreCase))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.FeatureConfigMismatch,
                $"model {version} was trained on feature config {m.FeatureConfigHash}, this device's front end is {_options.FeatureConfigHash}", version);
            return false;
        }
        if (m.SizeBytes > _options.ModelBudgetBytes)
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.OverBudget,
                $"model {version} is {m.SizeBytes} bytes, over the {_options.ModelBudgetBytes}-byte model budget", version);
            return false;
        }
        manifest = m;
        rejected = null;
        return true;
    }

    private bool TryVerifySlot(ModelSlot slot, out KeywordModel? model, out KeywordDetector? detector, out string reason)
    {
        model = null;
        detector = null;
        string dir = SlotDirectory(slot);
        string manifestPath = Path.Combine(dir, ManifestFileName);
        byte[] manifestBytes, signature;
        try
        {
            if (!File.Exists(manifestPath))
            {
                reason = $"slot {slot} has no {ManifestFileName}";
                return false;
            }
            var sigInfo = new FileInfo(Path.Combine(dir, SignatureFileName));
            if (!sigInfo.Exists || sigInfo.Length != ManifestSignature.SizeBytes)
            {
                reason = $"slot {slot} has no valid {SignatureFileName}";
                return false;
            }
            if (new FileInfo(manifestPath).Length > ModelTransfer.MaxManifestBytes)
            {
                reason = $"slot {slot} manifest is larger than {ModelTransfer.MaxManifestBytes} bytes";
                return false;
            }
            manifestBytes = File.ReadAllBytes(manifestPath);
            signature = File.ReadAllBytes(sigInfo.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"slot {slot} cannot be read: {ex.Message}";
            return false;
        }
        if (!TryPrecheck(manifestBytes, signature, out _, out var rejected))
        {
            reason = $"slot {slot}: {rejected!.Reason}";
            return false;
        }
        if (!KeywordModel.TryLoad(manifestPath, _options.FeatureConfigHash, _options.ModelBudgetBytes, out model, out reason)
            || !KeywordDetector.TryCreate(model!, _options.DetectorOptions, out detector, out reason))
        {
            model = null;
            reason = $"slot {slot}: {reason}";
            return false;
        }
        return true;
    }

    private static bool TryCheckWrittenModel(string modelPath, ModelManifest manifest, out string reason)
    {
        try
        {
            var info = new FileInfo(modelPath);
            if (info.Length != manifest.SizeBytes)
            {
                reason = $"written model is {info.Length} bytes but the signed manifest says {manifest.SizeBytes}";
                return false;
            }
            byte[] bytes = File.ReadAllBytes(modelPath);
            string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (!string.Equals(sha, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                reason = $"written model has SHA-256 {sha} but the signed manifest says {manifest.Sha256}: the model bytes were altered or corrupted";
                return false;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read back the written model {modelPath}: {ex.Message}";
            return false;
        }
        reason = "";
        return true;
    }

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

    private void ClearSlot(ModelSlot slot, string? keep)
    {
        string dir = SlotDirectory(slot);
        string? keepFull = keep is null ? null : Path.GetFullPath(keep);
        foreach (string file in Directory.EnumerateFiles(dir))
        {
            if (!string.Equals(Path.GetFullPath(file), keepFull, StringComparison.Ordinal)) File.Delete(file);
        }
        DurableFile.FsyncDirectory(dir);
    }

    /// <summary>Best effort: a slot that failed must not look installable later.</summary>
    private void WipeSlot(ModelSlot slot)
    {
        try
        {
            ClearSlot(slot, keep: null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The pointer never names this slot as active or previous, so leftovers are never used.
        }
    }

    private static void DeleteStaged(ModelUpdate update)
    {
        if (update.StagedModelPath is { } staged)
        {
            try
            {
                File.Delete(staged);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left for the next transfer to overwrite; never read as a model.
            }
        }
    }

    private bool TryWritePointer(ModelSlot active, ModelSlot? previous, out string reason)
    {
        string text = $"active={active}\nprevious={(previous is { } p ? p.ToString() : "-")}\n";
        try
        {
            DurableFile.WriteAtomically(Path.Combine(_options.ModelsDirectory, ActivePointerFileName), Encoding.ASCII.GetBytes(text));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = ex.Message;
            return false;
        }
        reason = "";
        return true;
    }

    private static bool TryReadPointer(string path, out ModelSlot active, out ModelSlot? previous, out string reason)
    {
        active = default;
        previous = null;
        string text;
        try
        {
            if (new FileInfo(path).Length > 64)
            {
                reason = "the pointer file is larger than 64 bytes";
                return false;
            }
            text = File.ReadAllText(path, Encoding.ASCII);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read {path}: {ex.Message}";
            return false;
        }
        string[] lines = text.Split('\n');
        if (lines.Length != 3 || lines[2].Length != 0
            || !TryParseSlot(lines[0], "active=", out ModelSlot? a) || a is null
            || !TryParseSlot(lines[1], "previous=", out ModelSlot? p) || p == a)
        {
            reason = $"pointer file content '{ModelUpdateOutcome.WireText(text).Trim()}' is not 'active=A|B\\nprevious=A|B|-\\n'";
            return false;
        }
        active = a.Value;
        previous = p;
        reason = "";
        return true;
    }

    private static bool TryParseSlot(string line, string prefix, out ModelSlot? slot)
    {
        slot = null;
        if (!line.StartsWith(prefix, StringComparison.Ordinal)) return false;
        switch (line[prefix.Length..])
        {
            case "A": slot = ModelSlot.A; return true;
            case "B": slot = ModelSlot.B; return true;
            case "-": return prefix != "active=";
            default: return false;
        }
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
            _verifier.Dispose();
        }
    }
}
