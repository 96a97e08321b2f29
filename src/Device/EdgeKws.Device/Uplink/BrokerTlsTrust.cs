using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using EdgeKws.Shared.Security;
using MQTTnet;

namespace EdgeKws.Device.Uplink;

/// <summary>
/// The uplink's TLS material and broker-certificate check: the pinned CA (custom root trust, not the system
/// store, when <see cref="MqttUplinkOptions.CaCertificatePemPath"/> is set) and the device's client certificate.
/// Owns the certificates it loads: the uplink disposes this after its connection loop has stopped.
/// </summary>
internal sealed class BrokerTlsTrust : IDisposable
{
    private readonly MqttUplinkOptions _options;
    private readonly X509Certificate2Collection? _trustedCa;
    private readonly X509Certificate2? _clientCertificate;
    private volatile string? _lastFailure;

    /// <summary>Loads the PEM files the options name. Throws <see cref="ArgumentException"/> for a CA file without
    /// a certificate and <see cref="System.Security.Cryptography.CryptographicException"/> for unreadable PEM files.</summary>
    public BrokerTlsTrust(MqttUplinkOptions options)
    {
        _options = options;
        if (options.CaCertificatePemPath is not null)
        {
            _trustedCa = [];
            _trustedCa.ImportFromPemFile(options.CaCertificatePemPath);
            if (_trustedCa.Count == 0)
            {
                throw new ArgumentException($"CaCertificatePemPath '{options.CaCertificatePemPath}' contains no PEM certificate", nameof(options));
            }
        }
        if (options.ClientCertificatePemPath is not null)
        {
            _clientCertificate = X509Certificate2.CreateFromPemFile(options.ClientCertificatePemPath, options.ClientKeyPemPath);
        }
    }

    /// <summary>A client certificate is configured (mutual TLS).</summary>
    public bool HasClientCertificate => _clientCertificate is not null;

    /// <summary>
    /// Why the broker's certificate was refused in the current connection attempt, or null. Kept because
    /// SslStream's own exception only says "rejected by the callback".
    /// </summary>
    public string? LastFailure => _lastFailure;

    /// <summary>Forgets the previous attempt's refusal; called before each CONNECT.</summary>
    public void ClearFailure() => _lastFailure = null;

    /// <summary>Configures TLS 1.2/1.3 with this trust and, when configured, the client certificate.</summary>
    public void Configure(MqttClientTlsOptionsBuilder tls)
    {
        tls.UseTls()
            .WithTargetHost(ServerName)
            .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
            .WithCertificateValidationHandler(ValidateBrokerCertificate);
        if (_clientCertificate is not null)
        {
            tls.WithClientCertificates([_clientCertificate]);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _clientCertificate?.Dispose();
        if (_trustedCa is not null)
        {
            foreach (X509Certificate2 ca in _trustedCa)
            {
                ca.Dispose();
            }
        }
    }

    private string ServerName => _options.TlsServerName ?? _options.Host;

    /// <summary>
    /// Trusts the broker only through the configured CA and records why a certificate was refused.
    /// Revocation is not checked: boards often cannot reach CRL/OCSP endpoints; rotate short-lived certificates instead.
    /// </summary>
    private bool ValidateBrokerCertificate(MqttClientCertificateValidationEventArgs e)
    {
        if (e.Certificate is null)
        {
            _lastFailure = "the broker presented no certificate";
            return false;
        }
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
        string host = ServerName;
        if ((e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            _lastFailure = $"broker certificate '{certificate.Subject}' is not issued for '{host}' (check its subject alternative names or set TlsServerName)";
            return false;
        }
        if (_trustedCa is null)
        {
            if (e.SslPolicyErrors == SslPolicyErrors.None)
            {
                return true;
            }
            _lastFailure = $"broker certificate '{certificate.Subject}' issued by '{certificate.Issuer}' is not trusted by the system trust store "
                + $"({PinnedCaChain.Describe(e.Chain)}); set CaCertificatePemPath to the CA that signed it";
            return false;
        }
        if (PinnedCaChain.TryBuild(certificate, _trustedCa, e.Chain, out string chainStatus))
        {
            return true;
        }
        _lastFailure = $"broker certificate '{certificate.Subject}' issued by '{certificate.Issuer}' does not chain to the CA in "
            + $"'{_options.CaCertificatePemPath}' ({chainStatus})";
        return false;
    }
}
