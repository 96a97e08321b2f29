using System.Security.Cryptography;
using System.Text;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Signing;

namespace EdgeKws.Device.Tests.ModelUpdates;

public class ManifestSigning_Tests
{
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("{\"schemaVersion\":1,\"modelVersion\":\"1.0.0\"}");

    private static (ManifestSigner Signer, ManifestVerifier Verifier) Pair(ECDsa key, bool sec1 = false)
    {
        string priv = sec1 ? key.ExportECPrivateKeyPem() : key.ExportPkcs8PrivateKeyPem();
        Assert.True(ManifestSigner.TryCreate(priv, out var signer, out string r1), r1);
        Assert.True(ManifestVerifier.TryCreate(key.ExportSubjectPublicKeyInfoPem(), out var verifier, out string r2), r2);
        return (signer!, verifier!);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Signs_64_byte_p1363_signatures_the_pinned_key_verifies(bool sec1)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (signer, verifier) = Pair(key, sec1);
        using (signer)
        using (verifier)
        {
            byte[] sig = signer.Sign(Manifest);
            Assert.Equal(64, sig.Length);
            Assert.True(verifier.Verify(Manifest, sig, out string reason), reason);
            // Interoperable: any P-256 implementation verifies it as plain P1363 ECDSA/SHA-256.
            Assert.True(key.VerifyData(Manifest, sig, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
            Assert.Equal(signer.KeyId, verifier.KeyId);
            Assert.Equal(16, verifier.KeyId.Length);
        }
    }

    [Fact]
    public void Rejects_any_changed_manifest_byte()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (signer, verifier) = Pair(key);
        byte[] sig = signer.Sign(Manifest);
        for (int i = 0; i < Manifest.Length; i++)
        {
            byte[] altered = (byte[])Manifest.Clone();
            altered[i] ^= 0x01;
            Assert.False(verifier.Verify(altered, sig, out string reason));
            Assert.Contains("does not verify against the pinned key", reason, StringComparison.Ordinal);
        }
        byte[] badSig = (byte[])sig.Clone();
        badSig[10] ^= 0x80;
        Assert.False(verifier.Verify(Manifest, badSig, out _));
    }

    [Fact]
    public void Rejects_a_signature_by_another_key_and_a_missing_or_der_signature()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (_, verifier) = Pair(key);
        var (otherSigner, _) = Pair(other);

        Assert.False(verifier.Verify(Manifest, otherSigner.Sign(Manifest), out string reason));
        Assert.Contains(verifier.KeyId, reason, StringComparison.Ordinal);
        Assert.False(verifier.Verify(Manifest, [], out reason));
        Assert.Equal("the manifest is unsigned (no signature)", reason);
        byte[] der = key.SignData(Manifest, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        Assert.False(verifier.Verify(Manifest, der, out reason));
        Assert.Contains("expected 64", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verifier_accepts_only_a_p256_public_key_pem()
    {
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);

        Assert.False(ManifestVerifier.TryCreate(p256.ExportPkcs8PrivateKeyPem(), out _, out string reason));
        Assert.Equal("PEM block is 'PRIVATE KEY', expected 'PUBLIC KEY'", reason);
        Assert.False(ManifestVerifier.TryCreate(p384.ExportSubjectPublicKeyInfoPem(), out _, out reason));
        Assert.Contains("expected NIST P-256", reason, StringComparison.Ordinal);
        Assert.False(ManifestVerifier.TryCreate(rsa.ExportSubjectPublicKeyInfoPem(), out _, out reason));
        Assert.Contains("does not hold an EC public key", reason, StringComparison.Ordinal);
        Assert.False(ManifestVerifier.TryCreate("hello", out _, out reason));
        Assert.Contains("no PEM block", reason, StringComparison.Ordinal);
        Assert.False(ManifestSigner.TryCreate(p384.ExportPkcs8PrivateKeyPem(), out _, out reason));
        Assert.Contains("expected NIST P-256", reason, StringComparison.Ordinal);
        Assert.False(ManifestSigner.TryCreate(p256.ExportSubjectPublicKeyInfoPem(), out _, out reason));
        Assert.Contains("'PUBLIC KEY'", reason, StringComparison.Ordinal);
    }
}
