using System.Security.Cryptography;
using EdgeKws.Detection;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// Decides whether a model package (signed manifest, signature, model file) may run on this device:
/// signature against the pinned key, manifest validity, feature config hash, size budget, SHA-256 of
/// the model bytes, and an ONNX Runtime load. The same checks serve an incoming update, a boot and a
/// rollback, so a slot is trusted only for what it holds now, never for having been checked before.
/// </summary>
/// <remarks>Owns and disposes the pinned key.</remarks>
internal sealed class ModelPackageVerifier(ModelSlotsOptions options, ManifestVerifier signatures) : IDisposable
{
    /// <summary>The pinned key the manifests' signatures are checked against.</summary>
    public ManifestVerifier Signatures => signatures;

    /// <summary>
    /// The checks that need only the manifest and its signature, shared by <see cref="ModelSlots.TryInstall"/>
    /// and the receiver (which runs them on the offer, before any chunk is accepted).
    /// </summary>
    public bool TryPrecheck(ReadOnlySpan<byte> manifestBytes, ReadOnlySpan<byte> signature,
        out ModelManifest? manifest, out ModelUpdateOutcome? rejected)
    {
        manifest = null;
        if (!signatures.Verify(manifestBytes, signature, out string why))
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
        if (ModelSlotStore.IsBookkeepingName(m.FileName!))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.ManifestInvalid,
                $"'fileName' '{m.FileName}' collides with a slot bookkeeping file", version);
            return false;
        }
        if (!string.Equals(m.FeatureConfigHash, options.FeatureConfigHash, StringComparison.OrdinalIgnoreCase))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.FeatureConfigMismatch,
                $"model {version} was trained on feature config {m.FeatureConfigHash}, this device's front end is {options.FeatureConfigHash}", version);
            return false;
        }
        if (m.SizeBytes > options.ModelBudgetBytes)
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.OverBudget,
                $"model {version} is {m.SizeBytes} bytes, over the {options.ModelBudgetBytes}-byte model budget", version);
            return false;
        }
        manifest = m;
        rejected = null;
        return true;
    }

    /// <summary>
    /// Size and SHA-256 of the model bytes as they landed on disk (not as they were received), so a
    /// transfer or storage fault is caught before the model is loaded.
    /// </summary>
    public static bool TryCheckWrittenModel(string modelPath, ModelManifest manifest, out string reason)
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

    /// <summary>
    /// Loads the model beside <paramref name="manifestPath"/> into a real ONNX Runtime session and a
    /// detector (the manifest's own size and digest are checked again by <see cref="KeywordModel.TryLoad"/>).
    /// </summary>
    public bool TryLoad(string manifestPath, out KeywordModel? model, out KeywordDetector? detector, out string reason)
    {
        detector = null;
        if (!KeywordModel.TryLoad(manifestPath, options.FeatureConfigHash, options.ModelBudgetBytes, out model, out reason)
            || !KeywordDetector.TryCreate(model!, options.DetectorOptions, out detector, out reason))
        {
            model = null;
            return false;
        }
        return true;
    }

    /// <summary>Every check, on what a slot holds now: the gate for a boot and a rollback.</summary>
    public bool TryVerifySlot(ModelSlotStore store, ModelSlot slot, out KeywordModel? model, out KeywordDetector? detector, out string reason)
    {
        model = null;
        detector = null;
        if (!store.TryReadSignedManifest(slot, out byte[] manifestBytes, out byte[] signature, out reason))
        {
            return false;
        }
        if (!TryPrecheck(manifestBytes, signature, out _, out var rejected))
        {
            reason = $"slot {slot}: {rejected!.Reason}";
            return false;
        }
        if (!TryLoad(store.ManifestPath(slot), out model, out detector, out reason))
        {
            reason = $"slot {slot}: {reason}";
            return false;
        }
        return true;
    }

    public void Dispose() => signatures.Dispose();
}
