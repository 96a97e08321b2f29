namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// One model update as it reaches <see cref="ModelSlots.TryInstall"/>: the exact manifest bytes, the
/// detached signature over them, and the model bytes (in memory, or already assembled in a staging
/// file by <see cref="ModelUpdateReceiver"/>). Nothing here is trusted until TryInstall checked it.
/// </summary>
public sealed class ModelUpdate
{
    private ModelUpdate(byte[] manifest, byte[] signature, byte[]? modelBytes, string? stagedModelPath)
    {
        Manifest = manifest;
        Signature = signature;
        ModelBytes = modelBytes;
        StagedModelPath = stagedModelPath;
    }

    /// <summary>The manifest file's exact bytes (what the signature covers).</summary>
    public ReadOnlyMemory<byte> Manifest { get; }

    /// <summary>ECDSA P-256 / SHA-256 signature over <see cref="Manifest"/>, IEEE P1363 (64 bytes); empty if unsigned.</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    internal byte[]? ModelBytes { get; }

    /// <summary>Path of the assembled model file when the update came in chunks.</summary>
    public string? StagedModelPath { get; }

    public static ModelUpdate FromBytes(byte[] manifest, byte[] signature, byte[] model)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(model);
        return new ModelUpdate(manifest, signature, model, null);
    }

    public static ModelUpdate FromStagedFile(byte[] manifest, byte[] signature, string stagedModelPath)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(stagedModelPath);
        return new ModelUpdate(manifest, signature, null, stagedModelPath);
    }
}
