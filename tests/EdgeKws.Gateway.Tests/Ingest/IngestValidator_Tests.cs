using EdgeKws.Gateway.Ingest;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Ingest;

public sealed class IngestValidator_Tests
{
    private const string Device = "dev-v";

    private static IngestEnvelope Envelope(string topic, byte[] payload, List<(string Name, string Value)> props, string? clientId = Device) =>
        new(clientId, topic, payload, props.Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, DateTimeOffset.UtcNow);

    [Fact]
    public void Accepts_a_detection_with_matching_properties_and_returns_its_sequence()
    {
        IngestEnvelope e = Envelope(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, 1)),
            Wire.Properties(42, MessageKind.Detection, Wire.ConfigHash));

        Assert.True(IngestValidator.TryValidate(e, 1 << 20, out ValidMessage? m, out RejectionKind rejection, out string reason), reason);
        Assert.Equal(RejectionKind.None, rejection);
        Assert.Equal(42, m!.Sequence);
        Assert.Equal(MessageKind.Detection, m.Kind);
        Assert.Equal(Wire.ConfigHash, m.ConfigHash);
    }

    [Fact]
    public void Accepts_a_status_message_without_a_sequence_but_requires_one_elsewhere()
    {
        byte[] status = WireJson.Serialize(new DeviceStatus { DeviceId = Device, State = DeviceState.Online });
        List<(string, string)> noSeq = [(UserProperties.SchemaVersion, "1"), (UserProperties.MessageKind, "status")];
        Assert.True(IngestValidator.TryValidate(Envelope(Topics.Uplink(Device, MessageKind.Status), status, noSeq), 1 << 20, out ValidMessage? m, out _, out string why), why);
        Assert.Null(m!.Sequence);

        List<(string, string)> heartbeatNoSeq = [(UserProperties.SchemaVersion, "1")];
        Assert.False(IngestValidator.TryValidate(Envelope(Topics.Uplink(Device, MessageKind.Heartbeat), WireJson.Serialize(Wire.Heartbeat(Device, 1)), heartbeatNoSeq),
            1 << 20, out _, out RejectionKind rejection, out string reason));
        Assert.Equal(RejectionKind.InvalidProperties, rejection);
        Assert.Equal("user property ekws-seq is missing (required for heartbeat messages)", reason);
    }

    [Fact]
    public void Rejects_a_clip_whose_header_hash_differs_from_the_property()
    {
        string otherHash = new('a', 64);
        IngestEnvelope e = Envelope(Topics.Uplink(Device, MessageKind.ClipFeatures), Wire.FeatureClip(Guid.NewGuid(), 5),
            Wire.Properties(3, MessageKind.ClipFeatures, otherHash));

        Assert.False(IngestValidator.TryValidate(e, 1 << 20, out _, out RejectionKind rejection, out string reason));
        Assert.Equal(RejectionKind.InvalidPayload, rejection);
        Assert.Contains("differs from the payload's feature config hash", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_topic_outside_the_publishers_subtree_as_foreign()
    {
        IngestEnvelope e = Envelope(Topics.Uplink("dev-other", MessageKind.Detection), WireJson.Serialize(Wire.Detection("dev-other", 1)),
            Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash));

        Assert.False(IngestValidator.TryValidate(e, 1 << 20, out _, out RejectionKind rejection, out string reason));
        Assert.Equal(RejectionKind.ForeignTopic, rejection);
        Assert.Equal("client 'dev-v' may publish only under 'edgekws/v1/dev-v/', not to 'edgekws/v1/dev-other/detection'", reason);
    }

    [Fact]
    public void Rejects_a_payload_over_the_size_limit_before_parsing_it()
    {
        IngestEnvelope e = Envelope(Topics.Uplink(Device, MessageKind.Detection), new byte[2048], Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash));

        Assert.False(IngestValidator.TryValidate(e, 1024, out _, out RejectionKind rejection, out string reason));
        Assert.Equal(RejectionKind.InvalidPayload, rejection);
        Assert.Equal("payload is 2048 bytes (max 1024)", reason);
    }
}
