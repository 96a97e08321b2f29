namespace EdgeKws.Device.Uplink;

/// <summary>Where the uplink's connection loop is.</summary>
public enum UplinkState
{
    /// <summary>Not started, or stopped.</summary>
    Stopped,
    /// <summary>Opening the connection (TCP, TLS, CONNECT/CONNACK).</summary>
    Connecting,
    /// <summary>Connected and pumping the outbox.</summary>
    Connected,
    /// <summary>Waiting out a backoff delay before the next attempt.</summary>
    WaitingToReconnect,
}
