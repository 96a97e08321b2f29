using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Resilience;

namespace EdgeKws.Device.Uplink;

/// <summary>Connection and pacing settings of <see cref="MqttUplink"/>.</summary>
public sealed class MqttUplinkOptions
{
    /// <summary>Device id; also the MQTT client id, so the broker keeps one session per device.</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Broker host name or IP address.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Broker port (1883 plain, 8883 TLS by convention).</summary>
    public int Port { get; init; } = 1883;

    /// <summary>Connect over TLS.</summary>
    public bool UseTls { get; init; }

    /// <summary>PEM file with the CA certificate(s) that sign the broker certificate. Null: the system trust store.</summary>
    public string? CaCertificatePemPath { get; init; }

    /// <summary>PEM file with the device's client certificate (mutual TLS); needs <see cref="ClientKeyPemPath"/>.</summary>
    public string? ClientCertificatePemPath { get; init; }

    /// <summary>PEM file with the private key of the client certificate.</summary>
    public string? ClientKeyPemPath { get; init; }

    /// <summary>Name the broker certificate must carry (SAN). Null: <see cref="Host"/>.</summary>
    public string? TlsServerName { get; init; }

    /// <summary>MQTT user name, or null for none.</summary>
    public string? Username { get; init; }

    /// <summary>MQTT password (only with <see cref="Username"/>).</summary>
    public string? Password { get; init; }

    /// <summary>How long the broker keeps the session after a disconnect. The outbox is the source of truth,
    /// so this only saves re-subscribing; a day covers typical outages.</summary>
    public uint SessionExpirySeconds { get; init; } = 24 * 3600;

    /// <summary>MQTT keep-alive; bounds how long a silently dead connection goes unnoticed when idle.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time allowed for CONNACK and for each PUBACK before the connection is treated as dead.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Delay before the first reconnect attempt.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap of the reconnect delay.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest fraction of a backoff delay removed at random (see <see cref="ExponentialBackoff"/>).</summary>
    public double BackoffJitterFraction { get; init; } = 0.5;

    /// <summary>Items read from the outbox per peek.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>How often an idle uplink re-checks the outbox when nobody calls <see cref="MqttUplink.NotifyEnqueued"/>.</summary>
    public TimeSpan IdlePollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Transient broker refusals (non-success PUBACK such as quota exceeded) of one message before it is dead-lettered.</summary>
    public int MaxRefusalsPerMessage { get; init; } = 5;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Topics.TryValidateDeviceId(DeviceId, out string why))
        {
            throw new ArgumentException($"{nameof(DeviceId)}: {why}", nameof(DeviceId));
        }
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException($"{nameof(Host)} is empty", nameof(Host));
        }
        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException($"{nameof(Port)} {Port} is not in 1..65535", nameof(Port));
        }
        if (!UseTls && (CaCertificatePemPath ?? ClientCertificatePemPath ?? ClientKeyPemPath) is not null)
        {
            throw new ArgumentException($"certificate paths are set but {nameof(UseTls)} is false; they would be ignored", nameof(UseTls));
        }
        if ((ClientCertificatePemPath is null) != (ClientKeyPemPath is null))
        {
            throw new ArgumentException($"{nameof(ClientCertificatePemPath)} and {nameof(ClientKeyPemPath)} must be set together", nameof(ClientKeyPemPath));
        }
        foreach ((string name, string? path) in new[]
                 {
                     (nameof(CaCertificatePemPath), CaCertificatePemPath),
                     (nameof(ClientCertificatePemPath), ClientCertificatePemPath),
                     (nameof(ClientKeyPemPath), ClientKeyPemPath),
                 })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new ArgumentException($"{name} '{path}' does not exist", name);
            }
        }
        if (Password is not null && Username is null)
        {
            throw new ArgumentException($"{nameof(Password)} is set without {nameof(Username)}", nameof(Password));
        }
        if (KeepAlive < TimeSpan.Zero || OperationTimeout <= TimeSpan.Zero || IdlePollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(KeepAlive)} must be >= 0 and {nameof(OperationTimeout)}, {nameof(IdlePollInterval)} > 0");
        }
        if (BatchSize < 1 || MaxRefusalsPerMessage < 1)
        {
            throw new ArgumentException($"{nameof(BatchSize)} and {nameof(MaxRefusalsPerMessage)} must be >= 1");
        }
        _ = new ExponentialBackoff(InitialBackoff, MaxBackoff, BackoffJitterFraction);
    }
}
