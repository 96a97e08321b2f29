using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using MQTTnet;

namespace EdgeKws.Gateway.Tests.Ingest;

/// <summary>A real device uplink and plain MQTT clients publish to a real in-process gateway with a SQLite file.</summary>
public sealed class IngestEndToEnd_Tests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180); // liveness only

    [Fact]
    public async Task Stores_every_kind_a_device_uplink_sends_exactly_once()
    {
        const string device = "dev-e2e";
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(device);
        var outbox = new InMemoryOutboxQueue();
        Guid featuresId = Guid.NewGuid(), audioId = Guid.NewGuid();
        for (int i = 0; i < 20; i++)
        {
            outbox.Enqueue(Topics.Uplink(device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(device, i)), Wire.ConfigHash);
        }
        for (int i = 0; i < 5; i++)
        {
            outbox.Enqueue(Topics.Uplink(device, MessageKind.Heartbeat), WireJson.Serialize(Wire.Heartbeat(device, i)), null);
        }
        outbox.Enqueue(Topics.Uplink(device, MessageKind.DriftSketch), WireJson.Serialize(Wire.Sketch(device)), Wire.ConfigHash);
        outbox.Enqueue(Topics.Uplink(device, MessageKind.ModelStatus), WireJson.Serialize(Wire.ModelStatus(device)), null);
        outbox.Enqueue(Topics.Uplink(device, MessageKind.ClipFeatures), Wire.FeatureClip(featuresId), Wire.ConfigHash);
        outbox.Enqueue(Topics.Uplink(device, MessageKind.ClipAudio), Wire.AudioClip(audioId), Wire.ConfigHash);

        await using (var uplink = new MqttUplink(Wire.UplinkOptions(gateway.Port, device), outbox))
        {
            uplink.Start();
            await TestWait.UntilAsync(() => outbox.Count == 0, Timeout, () => $"{outbox.Count} left in the outbox; uplink: {uplink.LastError}");
            Assert.Empty(outbox.DeadLettered);
            await uplink.StopAsync();
        }

        StoreCounts counts = gateway.Store.Count();
        Assert.Equal(new StoreCounts(Messages: 29, Detections: 20, Heartbeats: 5, Clips: 2, Sketches: 1, ModelStatuses: 1, Quarantined: 0, Devices: 1), counts);
        Assert.Equal(Enumerable.Range(1, 29).Select(i => (long)i), gateway.Store.ReadSequences(device));
        DeviceRecord d = Assert.Single(gateway.Store.ReadDevices());
        Assert.Equal(device, d.DeviceId);
        Assert.True(d.HasCredential);
        Assert.NotNull(d.FirstSeenUtc);
        Assert.Equal("kws-1.1.0", d.ModelVersion); // the model status came after the heartbeats
        // The uplink's clean stop publishes the retained offline status; presence is state, stored on the device row.
        await TestWait.UntilAsync(() => gateway.Store.ReadDevices()[0].Status == nameof(DeviceState.Offline), Timeout,
            () => $"status is {gateway.Store.ReadDevices()[0].Status}");
        Assert.Equal(0, gateway.Service.Metrics.Snapshot().Quarantined);
    }

    [Fact]
    public async Task Ignores_a_redelivered_message_and_quarantines_a_reused_sequence()
    {
        const string device = "dev-redeliver";
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(device);
        await using RawPublisher pub = await RawPublisher.ConnectAsync(gateway.Port, device);
        string topic = Topics.Uplink(device, MessageKind.Detection);
        byte[] payload = WireJson.Serialize(Wire.Detection(device, 1));

        Assert.Equal(MqttClientPublishReasonCode.Success, await pub.PublishAsync(topic, payload, Wire.Properties(7, MessageKind.Detection, Wire.ConfigHash), ContentTypes.Json));
        StoreCounts afterFirst = gateway.Store.Count();
        IReadOnlyList<DeviceRecord> devicesAfterFirst = gateway.Store.ReadDevices();

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(MqttClientPublishReasonCode.Success,
                await pub.PublishAsync(topic, payload, Wire.Properties(7, MessageKind.Detection, Wire.ConfigHash), ContentTypes.Json));
        }
        Assert.Equal(afterFirst, gateway.Store.Count());
        Assert.Equal(devicesAfterFirst, gateway.Store.ReadDevices());
        Assert.Equal(3, gateway.Service.Metrics.Snapshot().Duplicates);

        // Same (device, sequence), different content: not a redelivery. Kept aside, the original stays.
        byte[] other = WireJson.Serialize(Wire.Detection(device, 2));
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid,
            await pub.PublishAsync(topic, other, Wire.Properties(7, MessageKind.Detection, Wire.ConfigHash), ContentTypes.Json));
        QuarantineRecord q = Assert.Single(gateway.Store.ReadQuarantine(0, 10));
        Assert.Equal(RejectionKind.SequenceConflict, q.Rejection);
        Assert.Contains("sequence 7", q.Reason, StringComparison.Ordinal);
        Assert.Equal(other, q.Payload);
        Assert.Equal(1, gateway.Store.Count().Detections);
    }

    [Fact]
    public async Task Keeps_running_and_storing_after_quarantining_a_message()
    {
        const string device = "dev-keepgoing";
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(device);
        await using RawPublisher pub = await RawPublisher.ConnectAsync(gateway.Port, device);
        string topic = Topics.Uplink(device, MessageKind.Detection);

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid,
            await pub.PublishAsync(topic, "{\"schemaVersion\":1,"u8.ToArray(), Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash)));
        Assert.Equal(MqttClientPublishReasonCode.Success,
            await pub.PublishAsync(topic, WireJson.Serialize(Wire.Detection(device, 2)), Wire.Properties(2, MessageKind.Detection, Wire.ConfigHash)));

        QuarantineRecord q = Assert.Single(gateway.Store.ReadQuarantine(0, 10));
        Assert.Equal(topic, q.Topic);
        Assert.Equal(device, q.ClientId);
        Assert.Equal(RejectionKind.InvalidPayload, q.Rejection);
        Assert.StartsWith("DetectionReport payload is not valid JSON", q.Reason, StringComparison.Ordinal);
        Assert.Equal("{\"schemaVersion\":1,"u8.ToArray(), q.Payload);
        Assert.Equal([2L], gateway.Store.ReadSequences(device));
    }
}
