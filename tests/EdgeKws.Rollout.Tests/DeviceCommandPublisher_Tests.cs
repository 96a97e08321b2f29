using System.Collections.Concurrent;
using EdgeKws.Gateway;
using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.LocalServers;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Rollout.Tests;

/// <summary>The gateway's command path to a device on both brokers: injected by the embedded broker (and not ingested),
/// published through the gateway's own session on Mosquitto (with the ACL the gateway exports).</summary>
public sealed class DeviceCommandPublisher_Tests : IDisposable
{
    private const string Device = "dev-cmd";
    private const string Password = "device-password";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180); // liveness only
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Embedded_broker_delivers_an_injected_command_to_the_device_subscription_without_ingesting_it()
    {
        int port = TestWait.FreeLoopbackPort();
        await using var gateway = new GatewayService(Options.Create(new GatewayOptions
        {
            Store = new StoreOptions { DatabasePath = _dir.File("g.db"), Durability = StoreDurability.Normal },
            Broker = new BrokerOptions { Port = port },
        }));
        await gateway.StartAsync(CancellationToken.None);
        gateway.Store.SetDeviceCredential(Device, PasswordHash.Create(Password, iterations: 1_000));
        await using var device = await DeviceClient.ConnectAsync(port, Device, Password);

        byte[] payload = [1, 2, 3, 4];
        await gateway.Commands.PublishCommandAsync(Device, ModelTransfer.ChunkCommand, payload, CancellationToken.None);
        await gateway.Commands.PublishCommandAsync(Device, ModelTransfer.RollbackCommand, ReadOnlyMemory<byte>.Empty, CancellationToken.None);

        await TestWait.UntilAsync(() => device.Received.Count == 2, Timeout, () => $"{device.Received.Count} commands received");
        Assert.Equal([Topics.Command(Device, ModelTransfer.ChunkCommand), Topics.Command(Device, ModelTransfer.RollbackCommand)],
            device.Received.Select(r => r.Topic).Order(StringComparer.Ordinal));
        Assert.Equal(payload, device.Received.Single(r => r.Topic.EndsWith(ModelTransfer.ChunkCommand, StringComparison.Ordinal)).Payload);
        StoreCounts counts = gateway.Store.Count();
        Assert.Equal(0, counts.Quarantined);
        Assert.Equal(0, counts.Messages);
    }

    [Fact]
    public async Task External_broker_receives_the_command_through_the_gateway_session_under_the_exported_acl()
    {
        var storeOptions = new StoreOptions { DatabasePath = _dir.File("g.db"), Durability = StoreDurability.Normal };
        string passwd = _dir.File("passwd"), acl = _dir.File("acl");
        using (IGatewayStore s = GatewayStores.Open(storeOptions))
        {
            s.SetDeviceCredential(Device, PasswordHash.Create(Password, iterations: 1_000));
            MosquittoAuthExport.Write(MosquittoAuthExport.Build(s, ["gw-a"]), passwd, acl);
        }
        LocalMosquitto.AddPassword(passwd, "gw-a", "gateway-password");
        LocalMosquitto.AddPassword(passwd, Device, Password);
        using LocalMosquitto broker = LocalMosquitto.Start(passwd, acl);
        await using var gateway = new GatewayService(Options.Create(new GatewayOptions
        {
            Store = storeOptions,
            Broker = new BrokerOptions
            {
                Mode = BrokerMode.External,
                External = new ExternalBrokerOptions { Port = broker.Port, ClientId = "gw-a", Username = "gw-a", Password = "gateway-password" },
            },
        }));
        await gateway.StartAsync(CancellationToken.None);
        await using var device = await DeviceClient.ConnectAsync(broker.Port, Device, Password);

        await gateway.Commands.PublishCommandAsync(Device, ModelTransfer.RollbackCommand, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        await TestWait.UntilAsync(() => device.Received.Count == 1, Timeout, () => "no command at the device; mosquitto log:\n" + broker.Log());
        Assert.Equal(Topics.Command(Device, ModelTransfer.RollbackCommand), device.Received.Single().Topic);
    }

    /// <summary>A device's MQTT session subscribed to its commands, as the agent's uplink subscribes (cmd/#, QoS 1).</summary>
    private sealed class DeviceClient : IAsyncDisposable
    {
        private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

        public ConcurrentQueue<(string Topic, byte[] Payload)> Received { get; } = new();

        public static async Task<DeviceClient> ConnectAsync(int port, string device, string password)
        {
            var c = new DeviceClient();
            c._client.ApplicationMessageReceivedAsync += e =>
            {
                c.Received.Enqueue((e.ApplicationMessage.Topic, System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload)));
                return Task.CompletedTask;
            };
            MqttClientConnectResult r = await c._client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithClientId(device).WithCredentials(device, password).WithTimeout(Timeout).Build());
            Assert.Equal(MqttClientConnectResultCode.Success, r.ResultCode);
            MqttClientSubscribeResult s = await c._client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(Topics.Root + "/" + device + "/cmd/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, s.Items.Single().ResultCode);
            return c;
        }

        public async ValueTask DisposeAsync()
        {
            if (_client.IsConnected) await _client.DisconnectAsync();
            _client.Dispose();
        }
    }
}
