using System.Security.Cryptography;

namespace EdgeKws.Detection;

/// <summary>
/// A keyword model whose manifest is valid, whose bytes match the manifest's SHA-256 and size,
/// which fits the device's model budget, and which was trained on the same MFCC configuration as
/// this device's front end. Only <see cref="TryLoad(string, string, long, out KeywordModel?, out string)"/>
/// makes one, so holding a <see cref="KeywordModel"/> means all of that was checked.
/// </summary>
public sealed class KeywordModel
{
    /// <summary>The always-on island's model budget: 64 KB of INT8 model.</summary>
    public const long DefaultMaxModelBytes = 64 * 1024;

    private readonly byte[] _bytes;

    private KeywordModel(ModelManifest manifest, byte[] bytes, string modelPath)
    {
        Manifest = manifest;
        _bytes = bytes;
        ModelPath = modelPath;
    }

    public ModelManifest Manifest { get; }

    /// <summary>Full path of the verified model file.</summary>
    public string ModelPath { get; }

    /// <summary>The verified model bytes (the session is built from these, not re-read from disk,
    /// so the file cannot change between the hash check and the load).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    internal byte[] BytesArray => _bytes;

    /// <inheritdoc cref="TryLoad(string, string, long, out KeywordModel?, out string)"/>
    public static bool TryLoad(string manifestPath, string expectedFeatureConfigHash, out KeywordModel? model, out string reason) =>
        TryLoad(manifestPath, expectedFeatureConfigHash, DefaultMaxModelBytes, out model, out reason);

    /// <summary>
    /// Reads and verifies a manifest and its model file. Refuses, with the reason, a manifest that
    /// does not parse or validate, a model trained on a different feature configuration than
    /// <paramref name="expectedFeatureConfigHash"/>, a model larger than <paramref name="maxModelBytes"/>,
    /// and a model file whose size or SHA-256 differs from the manifest.
    /// </summary>
    public static bool TryLoad(string manifestPath, string expectedFeatureConfigHash, long maxModelBytes,
        out KeywordModel? model, out string reason)
    {
        model = null;
        ArgumentNullException.ThrowIfNull(manifestPath);
        ArgumentNullException.ThrowIfNull(expectedFeatureConfigHash);
        if (maxModelBytes <= 0)
        {
            reason = $"model budget must be positive, got {maxModelBytes} bytes";
            return false;
        }
        if (!EdgeKws.Shared.Contracts.FeatureConfigHash.TryValidate(expectedFeatureConfigHash, "the device's feature config hash", out reason))
        {
            return false;
        }
        if (!File.Exists(manifestPath))
        {
            reason = $"model manifest not found: {manifestPath}";
            return false;
        }

        byte[] manifestBytes;
        try
        {
            manifestBytes = File.ReadAllBytes(manifestPath);
        }
        catch (IOException ex)
        {
            reason = $"cannot read model manifest {manifestPath}: {ex.Message}";
            return false;
        }
        if (!ModelManifest.TryParse(manifestBytes, out var manifest, out reason)) return false;
        if (!manifest!.TryValidate(out reason)) return false;

        if (!string.Equals(manifest.FeatureConfigHash, expectedFeatureConfigHash, StringComparison.Ordinal))
        {
            reason = $"model {manifest.Describe()} was trained on feature config {manifest.FeatureConfigHash}, " +
                     $"but this device's MFCC front end is {expectedFeatureConfigHash}; refusing a model that would see different features";
            return false;
        }
        if (manifest.SizeBytes > maxModelBytes)
        {
            reason = $"model {manifest.Describe()} declares {manifest.SizeBytes} bytes, over the {maxModelBytes}-byte model budget";
            return false;
        }

        string modelPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, manifest.FileName!);
        var info = new FileInfo(modelPath);
        if (!info.Exists)
        {
            reason = $"model file named by the manifest not found: {modelPath}";
            return false;
        }
        // Checked before reading so an oversized file is never pulled into memory.
        if (info.Length > maxModelBytes)
        {
            reason = $"model file {modelPath} is {info.Length} bytes, over the {maxModelBytes}-byte model budget";
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(modelPath);
        }
        catch (IOException ex)
        {
            reason = $"cannot read model file {modelPath}: {ex.Message}";
            return false;
        }
        if (bytes.Length != manifest.SizeBytes)
        {
            reason = $"model file {modelPath} is {bytes.Length} bytes but the manifest says {manifest.SizeBytes}";
            return false;
        }
        string actualSha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actualSha, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            reason = $"model file {modelPath} has SHA-256 {actualSha} but the manifest says {manifest.Sha256}; " +
                     "the file is corrupt or was tampered with";
            return false;
        }

        model = new KeywordModel(manifest, bytes, modelPath);
        reason = "";
        return true;
    }
}
