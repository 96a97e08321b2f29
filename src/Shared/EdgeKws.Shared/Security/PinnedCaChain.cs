using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace EdgeKws.Shared.Security;

/// <summary>
/// Validates a TLS peer's certificate against a pinned CA bundle instead of the system trust store: the
/// one chain check the device uplink and the gateway's external-broker client both make, so a broker
/// certificate is accepted or refused for the same reasons on both sides.
/// </summary>
public static class PinnedCaChain
{
    /// <summary>
    /// True when <paramref name="certificate"/> chains to one of <paramref name="trustedCa"/> (custom root
    /// trust, no revocation check: brokers on a private PKI rarely publish CRLs). Intermediates the peer
    /// sent in <paramref name="presented"/> may complete the chain. On failure <paramref name="status"/>
    /// lists the chain's status flags for the error message.
    /// </summary>
    public static bool TryBuild(X509Certificate2 certificate, X509Certificate2Collection trustedCa, X509Chain? presented, out string status)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
        {
            foreach (X509ChainElement element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        if (chain.Build(certificate))
        {
            status = string.Empty;
            return true;
        }
        status = Describe(chain);
        return false;
    }

    /// <summary>The chain's status flags, comma separated ("no chain status" when there are none).</summary>
    public static string Describe(X509Chain? chain)
    {
        if (chain is null || chain.ChainStatus.Length == 0)
        {
            return "no chain status";
        }
        var sb = new StringBuilder();
        foreach (X509ChainStatus s in chain.ChainStatus)
        {
            if (sb.Length > 0)
            {
                sb.Append(", ");
            }
            sb.Append(s.Status);
        }
        return sb.ToString();
    }
}
