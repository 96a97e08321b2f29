using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using EdgeKws.Shared.Contracts;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace EdgeKws.Device.Tests.Uplink;

/// <summary>
/// A real MQTTnet broker on 127.0.0.1. <see cref="AdmitDevice"/> lets a test hold the device off (CONNACK
/// "server unavailable") until the subscriber is back after a restart, as a gateway that starts its
/// ingest before it accepts devices would. <see cref="Accepted"/> records every outbox message the broker
/// accepted (before its PUBACK), which is exactly what the device's delivery guarantee is about.
/// </summary>
internal sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;

    private EmbeddedBroker(MqttServer server) => _server = server;

    public volatile bool AdmitDevice = true;

    public ConcurrentQueue<long> Accepted { get; } = new();

    /// <summary>Lets a test misbehave on a given sequence (drop the connection before PUBACK, refuse it).
    /// Returns true when the message counts as accepted.</summary>
    public Func<long, InterceptingPublishEventArgs, bool>? OnPublish { get; set; }

    public static async Task<EmbeddedBroker> StartAsync(int port, bool admitDevice = true)
    {
        var factory = new MqttServerFactory();
        MqttServerOptions options = factory.CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
            .WithDefaultEndpointPort(port)
            .WithDefaultEndpointReuseAddress()
            .WithPersistentSessions(true)
            .WithMaxPendingMessagesPerClient(100_000)
            .Build();
        var broker = new EmbeddedBroker(factory.CreateMqttServer(options)) { AdmitDevice = admitDevice };
        broker._server.ValidatingConnectionAsync += e =>
        {
            if (e.ClientId.StartsWith("dev-", StringComparison.Ordinal) && !broker.AdmitDevice)
            {
                e.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
            }
            return Task.CompletedTask;
        };
        broker._server.InterceptingPublishAsync += e =>
        {
            string? seq = e.ApplicationMessage.UserProperties?.FirstOrDefault(p => p.Name == UserProperties.Sequence)?.ReadValueAsString();
            if (seq is not null)
            {
                long sequence = long.Parse(seq, CultureInfo.InvariantCulture);
                if (broker.OnPublish?.Invoke(sequence, e) ?? true)
                {
                    broker.Accepted.Enqueue(sequence);
                }
            }
            return Task.CompletedTask;
        };
        await broker._server.StartAsync();
        return broker;
    }

    /// <summary>Drops the device's connection from the broker side (a dead link as far as the device's session is concerned).</summary>
    public Task DisconnectDeviceAsync(string clientId) =>
        _server.DisconnectClientAsync(clientId, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.AdministrativeAction });

    public async ValueTask DisposeAsync()
    {
        if (_server.IsStarted)
        {
            await _server.StopAsync(new MqttServerStopOptions());
        }
        _server.Dispose();
    }
}
