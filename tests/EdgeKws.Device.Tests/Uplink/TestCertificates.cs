using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeKws.Device.Tests.Uplink;

/// <summary>
/// Generates a throw-away PKI at test time with .NET's CertificateRequest: a CA, a broker certificate for
/// 127.0.0.1/localhost, a device client certificate (CN = device id), and an unrelated CA for negative tests.
/// All PEM, as a board would have them on disk.
/// </summary>
internal sealed class TestCertificates
{
    private TestCertificates(string dir) => Directory = dir;

    public string Directory { get; }

    public string CaPem => Path.Combine(Directory, "ca.pem");

    public string OtherCaPem => Path.Combine(Directory, "other-ca.pem");

    public string ServerPem => Path.Combine(Directory, "server.pem");

    public string ServerKey => Path.Combine(Directory, "server.key");

    public string ClientPem => Path.Combine(Directory, "client.pem");

    public string ClientKey => Path.Combine(Directory, "client.key");

    public static TestCertificates Create(string dir, string clientCommonName)
    {
        var pki = new TestCertificates(dir);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 ca = CreateCa("EdgeKws Test CA", now);
        File.WriteAllText(pki.CaPem, ca.ExportCertificatePem());
        using (X509Certificate2 other = CreateCa("Unrelated CA", now))
        {
            File.WriteAllText(pki.OtherCaPem, other.ExportCertificatePem());
        }
        Issue(ca, "127.0.0.1", server: true, now, pki.ServerPem, pki.ServerKey);
        Issue(ca, clientCommonName, server: false, now, pki.ClientPem, pki.ClientKey);
        return pki;
    }

    private static X509Certificate2 CreateCa(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        return req.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
    }

    private static void Issue(X509Certificate2 ca, string commonName, bool server, DateTimeOffset now, string certPath, string keyPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            req.CertificateExtensions.Add(san.Build());
        }
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using X509Certificate2 cert = req.Create(ca, now.AddDays(-1), now.AddDays(29), serial);
        File.WriteAllText(certPath, cert.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
    }
}
