namespace EdgeKws.Gateway.Configuration;

/// <summary>
/// The gateway as an MQTT 5 client of an external broker (section <c>Gateway:Broker:External</c>). Every instance
/// subscribes to <c>$share/{SharedGroup}/edgekws/v1/+/+</c>, so the broker hands each message to one instance.
/// Each instance needs its own stable <see cref="ClientId"/>: its persistent session holds the messages it has not
/// acknowledged yet, and a restarted instance with the same id gets them back.
/// </summary>
public sealed class ExternalBrokerOptions
{
    /// <summary>Broker host.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Broker port (1883 plain, 8883 TLS).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>This instance's client id: unique per instance and the same across its restarts.</summary>
    public string ClientId { get; set; } = "edgekws-gateway-1";

    /// <summary>User name at the broker (null: none). With Mosquitto's <c>use_username_as_clientid</c> it must equal <see cref="ClientId"/>.</summary>
    public string? Username { get; set; }

    /// <summary>Password at the broker.</summary>
    public string? Password { get; set; }

    /// <summary>Shared-subscription group: every instance in the same group splits one stream.</summary>
    public string SharedGroup { get; set; } = "edgekws-gateway";

    /// <summary>How long the broker keeps this instance's session (and the messages queued for it) while it is down.</summary>
    public uint SessionExpirySeconds { get; set; } = 24 * 3600;

    /// <summary>Most unacknowledged messages the broker may send this instance at once (MQTT 5 Receive Maximum).
    /// It bounds memory and is what lets the writer batch: acknowledgements wait for the commit.</summary>
    public ushort ReceiveMaximum { get; set; } = 1024;

    /// <summary>Keep-alive with the broker.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Timeout of CONNECT and SUBSCRIBE.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest delay between reconnect attempts (doubles from 0.5 s).</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Connect over TLS.</summary>
    public bool UseTls { get; set; }

    /// <summary>PEM file with the CA that signs the broker certificate (null: the system trust store).</summary>
    public string? CaCertificatePemPath { get; set; }

    /// <summary>Name the broker certificate must carry (null: <see cref="Host"/>).</summary>
    public string? TlsServerName { get; set; }

    /// <summary>The subscription filter.</summary>
    public string SharedFilter => $"$share/{SharedGroup}/{EdgeKws.Shared.Contracts.Topics.Root}/+/+";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("Gateway:Broker:External:Host is empty");
        }
        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException($"Gateway:Broker:External:Port {Port} is not in 1..65535");
        }
        if (string.IsNullOrWhiteSpace(ClientId) || ClientId.Length > 64)
        {
            throw new ArgumentException("Gateway:Broker:External:ClientId must be 1..64 characters and unique per instance");
        }
        if (string.IsNullOrWhiteSpace(SharedGroup) || SharedGroup.AsSpan().IndexOfAny("/+#") >= 0)
        {
            throw new ArgumentException($"Gateway:Broker:External:SharedGroup '{SharedGroup}' must be non-empty without '/', '+' or '#'");
        }
        if (Password is not null && Username is null)
        {
            throw new ArgumentException("Gateway:Broker:External:Password is set without a Username");
        }
        if (ReceiveMaximum < 1)
        {
            throw new ArgumentException("Gateway:Broker:External:ReceiveMaximum must be >= 1");
        }
        if (KeepAlive <= TimeSpan.Zero || Timeout <= TimeSpan.Zero || MaxReconnectDelay <= TimeSpan.Zero)
        {
            throw new ArgumentException("Gateway:Broker:External:KeepAlive, Timeout and MaxReconnectDelay must be positive");
        }
        if (CaCertificatePemPath is not null && !File.Exists(CaCertificatePemPath))
        {
            throw new ArgumentException($"Gateway:Broker:External:CaCertificatePemPath '{CaCertificatePemPath}' does not exist");
        }
    }
}
