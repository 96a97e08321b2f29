using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgeKws.LocalServers;

namespace EdgeKws.TestSupport;

/// <summary>
/// Generates a throw-away PKI at test time with .NET's CertificateRequest: a CA, a broker certificate for
/// 127.0.0.1/localhost, a device client certificate (CN = device id), and an unrelated CA for negative tests.
/// All PEM, as a board would have them on disk.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string dir) => Directory = dir;

    /// <summary>The directory holding the PEM files.</summary>
    public string Directory { get; }

    /// <summary>PEM of the CA that signs the server and client certificates.</summary>
    public string CaPem => Path.Combine(Directory, "ca.pem");

    /// <summary>PEM of a CA that signed nothing here (negative tests).</summary>
    public string OtherCaPem => Path.Combine(Directory, "other-ca.pem");

    /// <summary>Server certificate for CN/SAN 127.0.0.1 and localhost, signed by the CA.</summary>
    public string ServerPem => Path.Combine(Directory, "server.pem");

    /// <summary>The server certificate's PKCS#8 private key.</summary>
    public string ServerKey => Path.Combine(Directory, "server.key");

    /// <summary>The CA, server certificate and key as a broker's TLS listener takes them (<see cref="LocalMosquitto.Start"/>).</summary>
    public BrokerTlsFiles BrokerTls => new(CaPem, ServerPem, ServerKey);

    /// <summary>Client certificate (CN = the device id given to <see cref="Create"/>), signed by the CA.</summary>
    public string ClientPem => Path.Combine(Directory, "client.pem");

    /// <summary>The client certificate's PKCS#8 private key.</summary>
    public string ClientKey => Path.Combine(Directory, "client.key");

    /// <summary>Writes the PKI into <paramref name="dir"/> (which must exist).</summary>
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
