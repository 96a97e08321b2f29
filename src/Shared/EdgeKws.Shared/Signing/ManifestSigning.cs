using System.Security.Cryptography;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Signing;

/// <summary>
/// What the manifest signature is: ECDSA over NIST P-256 with SHA-256, computed over the exact
/// manifest file bytes, encoded IEEE P1363 (r || s, 32 bytes each, big-endian: always 64 bytes).
/// P1363 rather than DER because the length is fixed, so the wire format and the slot's
/// <c>manifest.sig</c> file can be checked by length alone and there is no ASN.1 to parse.
/// </summary>
public static class ManifestSignature
{
    /// <summary>Signature length in bytes.</summary>
    public const int SizeBytes = ModelTransfer.SignatureSizeBytes;

    /// <summary>The one signature encoding used.</summary>
    public const DSASignatureFormat Format = DSASignatureFormat.IeeeP1363FixedFieldConcatenation;

    /// <summary>Object identifier of NIST P-256 (secp256r1).</summary>
    public const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>
    /// Short id of a public key: the first 16 hex digits of the SHA-256 of its SubjectPublicKeyInfo
    /// DER. Logged and documented so operators can tell which key a device pins.
    /// </summary>
    public static string KeyId(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];
    }

    /// <summary>True when <paramref name="key"/> is on NIST P-256; otherwise false with the curve named.</summary>
    public static bool IsP256(ECDsa key, out string reason)
    {
        ECParameters p = key.ExportParameters(includePrivateParameters: false);
        if (p.Curve.Oid?.Value != P256Oid || key.KeySize != 256)
        {
            reason = $"key is on curve {p.Curve.Oid?.Value ?? p.Curve.Oid?.FriendlyName ?? "(explicit)"} ({key.KeySize} bits), expected NIST P-256 ({P256Oid})";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>Finds exactly one PEM block with <paramref name="label"/>; refuses anything else by name.</summary>
    public static bool TryFindPem(string pem, string label, out byte[] der, out string reason)
    {
        der = [];
        if (!PemEncoding.TryFind(pem, out PemFields fields))
        {
            reason = $"no PEM block found (expected '-----BEGIN {label}-----')";
            return false;
        }
        string found = pem[fields.Label];
        if (!string.Equals(found, label, StringComparison.Ordinal))
        {
            reason = $"PEM block is '{found}', expected '{label}'";
            return false;
        }
        der = Convert.FromBase64String(pem[fields.Base64Data]);
        reason = "";
        return true;
    }
}

/// <summary>
/// Signs manifests with an ECDSA P-256 private key. Used by the gateway's registry (the one release signer)
/// and by tests; a device never holds a private key (it has <c>ManifestVerifier</c> in EdgeKws.Device).
/// </summary>
public sealed class ManifestSigner : IDisposable
{
    private readonly ECDsa _key;

    private ManifestSigner(ECDsa key) => _key = key;

    /// <summary>Short id of the matching public key (see <see cref="ManifestSignature.KeyId"/>).</summary>
    public string KeyId => ManifestSignature.KeyId(_key);

    /// <summary>
    /// Loads a P-256 private key from PEM: PKCS#8 (<c>PRIVATE KEY</c>) or SEC 1 (<c>EC PRIVATE KEY</c>).
    /// Encrypted PEM is refused (decrypt it into the signing process's memory first).
    /// </summary>
    public static bool TryCreate(string privateKeyPem, out ManifestSigner? signer, out string reason)
    {
        ArgumentNullException.ThrowIfNull(privateKeyPem);
        signer = null;
        if (!PemEncoding.TryFind(privateKeyPem, out PemFields fields))
        {
            reason = "no PEM block found (expected '-----BEGIN PRIVATE KEY-----' or '-----BEGIN EC PRIVATE KEY-----')";
            return false;
        }
        string label = privateKeyPem[fields.Label];
        var key = ECDsa.Create();
        try
        {
            byte[] der = Convert.FromBase64String(privateKeyPem[fields.Base64Data]);
            switch (label)
            {
                case "PRIVATE KEY":
                    key.ImportPkcs8PrivateKey(der, out _);
                    break;
                case "EC PRIVATE KEY":
                    key.ImportECPrivateKey(der, out _);
                    break;
                default:
                    reason = $"PEM block is '{label}', expected an unencrypted 'PRIVATE KEY' or 'EC PRIVATE KEY'";
                    key.Dispose();
                    return false;
            }
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException)
        {
            key.Dispose();
            reason = $"private key PEM does not hold an EC key: {ex.Message}";
            return false;
        }
        if (!ManifestSignature.IsP256(key, out reason))
        {
            key.Dispose();
            return false;
        }
        signer = new ManifestSigner(key);
        return true;
    }

    /// <summary>The matching public key as the PEM a device pins (<c>-----BEGIN PUBLIC KEY-----</c>, SubjectPublicKeyInfo).</summary>
    public string ExportPublicKeyPem() => _key.ExportSubjectPublicKeyInfoPem();

    /// <summary>Signs the exact manifest bytes; returns the 64-byte P1363 signature.</summary>
    public byte[] Sign(ReadOnlySpan<byte> manifestBytes) =>
        _key.SignData(manifestBytes, HashAlgorithmName.SHA256, ManifestSignature.Format);

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();
}
