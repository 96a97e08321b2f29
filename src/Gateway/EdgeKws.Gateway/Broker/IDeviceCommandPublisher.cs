namespace EdgeKws.Gateway.Broker;

/// <summary>
/// Publishes a command to one device on <c>edgekws/v1/{deviceId}/cmd/{command}</c> at QoS 1, the topics the agent's uplink
/// session subscribes to (<c>cmd/#</c>). The embedded broker injects it from the server side; with an external broker it goes
/// through the gateway's own MQTT client. Completes when the broker has taken the message (not when the device has it: the
/// device confirms what it runs through its <c>model-status</c> messages).
/// </summary>
public interface IDeviceCommandPublisher
{
    /// <summary>Publishes <paramref name="payload"/> to the device's command topic <paramref name="command"/>.</summary>
    Task PublishCommandAsync(string deviceId, string command, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);
}
