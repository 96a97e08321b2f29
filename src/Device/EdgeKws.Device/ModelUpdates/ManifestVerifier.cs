using System.Security.Cryptography;
using EdgeKws.Shared.Signing;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// Verifies manifest signatures against the one public key the agent pins (a SubjectPublicKeyInfo
/// PEM file in its state directory). Holds no private material.
/// </summary>
public sealed class ManifestVerifier : IDisposable
{
    private readonly ECDsa _key;

    private ManifestVerifier(ECDsa key, string keyId)
    {
        _key = key;
        KeyId = keyId;
    }

    /// <summary>Short id of the pinned key (see <see cref="ManifestSignature.KeyId"/>).</summary>
    public string KeyId { get; }

    /// <summary>Loads the pinned key from a PEM file (<c>-----BEGIN PUBLIC KEY-----</c>, P-256).</summary>
    public static bool TryLoad(string publicKeyPath, out ManifestVerifier? verifier, out string reason)
    {
        ArgumentNullException.ThrowIfNull(publicKeyPath);
        verifier = null;
        string pem;
        try
        {
            pem = File.ReadAllText(publicKeyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read the pinned model-signing public key {publicKeyPath}: {ex.Message}";
            return false;
        }
        if (!TryCreate(pem, out verifier, out reason))
        {
            reason = $"pinned model-signing public key {publicKeyPath}: {reason}";
            return false;
        }
        return true;
    }

    /// <summary>Creates a verifier from PEM text (<c>PUBLIC KEY</c>, SubjectPublicKeyInfo, P-256).</summary>
    public static bool TryCreate(string publicKeyPem, out ManifestVerifier? verifier, out string reason)
    {
        ArgumentNullException.ThrowIfNull(publicKeyPem);
        verifier = null;
        byte[] der;
        try
        {
            if (!ManifestSignature.TryFindPem(publicKeyPem, "PUBLIC KEY", out der, out reason)) return false;
        }
        catch (FormatException ex)
        {
            reason = $"public key PEM has bad base64: {ex.Message}";
            return false;
        }
        var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(der, out int read);
            if (read != der.Length)
            {
                key.Dispose();
                reason = $"public key PEM has {der.Length - read} trailing bytes after the key";
                return false;
            }
        }
        catch (CryptographicException ex)
        {
            key.Dispose();
            reason = $"public key PEM does not hold an EC public key: {ex.Message}";
            return false;
        }
        if (!ManifestSignature.IsP256(key, out reason))
        {
            key.Dispose();
            return false;
        }
        verifier = new ManifestVerifier(key, ManifestSignature.KeyId(key));
        return true;
    }

    /// <summary>
    /// True when <paramref name="signature"/> is the pinned key's signature over exactly
    /// <paramref name="manifestBytes"/>; otherwise false with a reason naming the key.
    /// </summary>
    public bool Verify(ReadOnlySpan<byte> manifestBytes, ReadOnlySpan<byte> signature, out string reason)
    {
        if (signature.Length != ManifestSignature.SizeBytes)
        {
            reason = signature.Length == 0
                ? "the manifest is unsigned (no signature)"
                : $"signature is {signature.Length} bytes, expected {ManifestSignature.SizeBytes} (ECDSA P-256, IEEE P1363 r||s)";
            return false;
        }
        if (!_key.VerifyData(manifestBytes, signature, HashAlgorithmName.SHA256, ManifestSignature.Format))
        {
            reason = $"signature does not verify against the pinned key {KeyId}: the manifest was altered or signed with another key";
            return false;
        }
        reason = "";
        return true;
    }

    public void Dispose() => _key.Dispose();
}
