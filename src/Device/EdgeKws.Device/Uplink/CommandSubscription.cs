using EdgeKws.Shared.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Device.Uplink;

/// <summary>
/// The downlink on the uplink's own client: the device's commands (<c>edgekws/v1/{deviceId}/cmd/#</c>, QoS 1)
/// on the persistent session, so commands published while the device was offline arrive after the reconnect.
/// </summary>
internal static class CommandSubscription
{
    /// <summary>
    /// Routes command messages to <paramref name="commands"/> with the command name (the topic's last level) and a
    /// copy of the payload. Attach before CONNECT: a resumed session delivers queued commands right after the CONNACK.
    /// </summary>
    public static void Attach(IMqttClient client, string deviceId, Action<string, byte[]> commands)
    {
        string commandPrefix = Topics.CommandFilter(deviceId)[..^1]; // "edgekws/v1/{id}/cmd/"
        client.ApplicationMessageReceivedAsync += e =>
        {
            string topic = e.ApplicationMessage.Topic;
            if (topic.StartsWith(commandPrefix, StringComparison.Ordinal))
            {
                commands(topic[commandPrefix.Length..], System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload));
            }
            return Task.CompletedTask;
        };
    }

    /// <summary>
    /// Subscribes to the command filter after every connect, not only without a session: re-subscribing is
    /// idempotent and repairs a session the broker lost.
    /// </summary>
    /// <returns>Null when granted; otherwise why the broker refused it.</returns>
    public static async Task<string?> SubscribeAsync(IMqttClient client, string deviceId, CancellationToken cancel)
    {
        MqttClientSubscribeResult sub = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(Topics.CommandFilter(deviceId), MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancel).ConfigureAwait(false);
        foreach (MqttClientSubscribeResultItem item in sub.Items)
        {
            if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
            {
                return $"broker refused the command subscription {item.TopicFilter.Topic}: {item.ResultCode}";
            }
        }
        return null;
    }
}
