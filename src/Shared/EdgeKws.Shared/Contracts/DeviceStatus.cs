namespace EdgeKws.Shared.Contracts;

/// <summary>Presence of a device.</summary>
public enum DeviceState
{
    /// <summary>Connected to the broker.</summary>
    Online = 1,
    /// <summary>Disconnected: sent by the device on a clean shutdown or by the broker as the Last Will.</summary>
    Offline = 2,
}

/// <summary>
/// Retained presence message on <c>edgekws/v1/{deviceId}/status</c>. The offline variant is the
/// MQTT Last Will, so it carries no timestamp (it is fixed at connect time).
/// </summary>
public sealed class DeviceStatus : IWireMessage
{
    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>The device.</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Online or offline.</summary>
    public DeviceState State { get; init; }

    /// <summary>Why the device went offline when it says so itself (e.g. "shutdown"); the Last Will says "connection lost".</summary>
    public string? Reason { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason)
    {
        if (!(Check.Schema(SchemaVersion, out reason)
            && Check.DeviceId(DeviceId, out reason)
            && Check.Text("reason", Reason, WireLimits.MaxTextLength, required: false, out reason)))
        {
            return false;
        }
        if (!Enum.IsDefined(State))
        {
            reason = $"state {(int)State} is not online or offline";
            return false;
        }
        return true;
    }
}
