using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Listening;

/// <summary>The uplink topics one device's listening pipeline publishes on, built once so no message builds a string.</summary>
internal sealed class DeviceUplinkTopics(string deviceId)
{
    public string Detection { get; } = Topics.Uplink(deviceId, MessageKind.Detection);

    public string Heartbeat { get; } = Topics.Uplink(deviceId, MessageKind.Heartbeat);

    public string Drift { get; } = Topics.Uplink(deviceId, MessageKind.DriftSketch);

    public string ClipAudio { get; } = Topics.Uplink(deviceId, MessageKind.ClipAudio);

    public string ClipFeatures { get; } = Topics.Uplink(deviceId, MessageKind.ClipFeatures);

    public string NearMiss { get; } = Topics.Uplink(deviceId, MessageKind.NearMiss);
}
