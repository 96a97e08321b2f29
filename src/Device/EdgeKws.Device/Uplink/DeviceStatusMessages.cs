using System.Globalization;
using System.Text;
using EdgeKws.Shared.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Device.Uplink;

/// <summary>
/// The device's retained status on <c>edgekws/v1/{deviceId}/status</c>: online after each connect, offline on a
/// clean stop, and the same offline message as the Last Will the broker publishes when the connection dies.
/// </summary>
internal static class DeviceStatusMessages
{
    /// <summary>The retained status message, QoS 1, with the schema-version and kind user properties.</summary>
    public static MqttApplicationMessage Build(string deviceId, DeviceState state, string? reason) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Uplink(deviceId, MessageKind.Status))
            .WithPayload(Payload(deviceId, state, reason))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .WithContentType(ContentTypes.Json)
            .WithUserProperty(UserProperties.SchemaVersion, SchemaVersionProperty())
            .WithUserProperty(UserProperties.MessageKind, KindProperty())
            .Build();

    /// <summary>Registers "offline, connection lost" as the session's Last Will, retained, QoS 1.</summary>
    public static MqttClientOptionsBuilder WithOfflineWill(this MqttClientOptionsBuilder builder, string deviceId) =>
        builder
            .WithWillTopic(Topics.Uplink(deviceId, MessageKind.Status))
            .WithWillPayload(Payload(deviceId, DeviceState.Offline, "connection lost"))
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillRetain(true)
            .WithWillContentType(ContentTypes.Json)
            .WithWillUserProperty(UserProperties.SchemaVersion, SchemaVersionProperty())
            .WithWillUserProperty(UserProperties.MessageKind, KindProperty());

    private static byte[] Payload(string deviceId, DeviceState state, string? reason) =>
        WireJson.Serialize(new DeviceStatus { DeviceId = deviceId, State = state, Reason = reason });

    private static ReadOnlyMemory<byte> SchemaVersionProperty() =>
        Encoding.UTF8.GetBytes(WireLimits.SchemaVersion.ToString(CultureInfo.InvariantCulture));

    private static ReadOnlyMemory<byte> KindProperty() => Encoding.UTF8.GetBytes(Topics.KindSegment(MessageKind.Status));
}
