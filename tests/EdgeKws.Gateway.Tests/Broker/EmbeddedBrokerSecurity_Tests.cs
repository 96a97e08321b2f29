using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using MQTTnet;

namespace EdgeKws.Gateway.Tests.Broker;

/// <summary>Per-device credentials and topic access of the embedded broker, over real MQTT connections.</summary>
public sealed class EmbeddedBrokerSecurity_Tests
{
    [Fact]
    public async Task Refuses_a_wrong_password_and_logs_it()
    {
        await using InProcessGateway gateway = await InProcessGateway.StartAsync("dev-a");
        await using var client = new RawPublisher();

        MqttClientConnectResult result = await client.TryConnectAsync(gateway.Port, "dev-a", "not-the-password");

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        Assert.Equal(1, gateway.Service.Metrics.Snapshot().AuthFailures);
        Assert.Contains(gateway.Log.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("'dev-a'", StringComparison.Ordinal)
            && l.Contains("wrong password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_an_unprovisioned_device_and_a_user_name_that_is_not_the_client_id()
    {
        await using InProcessGateway gateway = await InProcessGateway.StartAsync("dev-a");
        await using var unknown = new RawPublisher();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword,
            (await unknown.TryConnectAsync(gateway.Port, "dev-unknown", InProcessGateway.Password)).ResultCode);

        // dev-b tries to borrow dev-a's identity by connecting with client id dev-a but its own user name is not possible:
        // the user name must equal the client id, and the password is checked against that device.
        await using var impostor = new RawPublisher();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword,
            (await impostor.TryConnectAsync(gateway.Port, "dev-a", "dev-b-password-123")).ResultCode);
        Assert.Equal(2, gateway.Service.Metrics.Snapshot().AuthFailures);
    }

    [Fact]
    public async Task Refuses_a_publish_to_another_devices_topic_logs_counts_and_quarantines_it()
    {
        await using InProcessGateway gateway = await InProcessGateway.StartAsync("dev-a", "dev-b");
        await using RawPublisher a = await RawPublisher.ConnectAsync(gateway.Port, "dev-a");
        byte[] forged = WireJson.Serialize(Wire.Detection("dev-b", 1)); // a perfectly valid message, but for dev-b

        MqttClientPublishReasonCode code = await a.PublishAsync(Topics.Uplink("dev-b", MessageKind.Detection), forged,
            Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash), ContentTypes.Json);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, code);
        Assert.Equal(0, gateway.Store.Count().Detections);
        Assert.Empty(gateway.Store.ReadSequences("dev-b"));
        QuarantineRecord q = Assert.Single(gateway.Store.ReadQuarantine(0, 10));
        Assert.Equal(RejectionKind.ForeignTopic, q.Rejection);
        Assert.Equal("dev-a", q.ClientId);
        Assert.Equal(1, gateway.Service.Metrics.Snapshot().ForeignTopicRefused);
        Assert.Contains(gateway.Log.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("foreign topic", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_a_subscription_outside_the_devices_own_subtree()
    {
        await using InProcessGateway gateway = await InProcessGateway.StartAsync("dev-a");
        await using RawPublisher a = await RawPublisher.ConnectAsync(gateway.Port, "dev-a");

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await a.SubscribeAsync(Topics.AllUplinkFilter));
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await a.SubscribeAsync(Topics.CommandFilter("dev-a")));
        Assert.Equal(1, gateway.Service.Metrics.Snapshot().SubscribeRefused);
    }
}
