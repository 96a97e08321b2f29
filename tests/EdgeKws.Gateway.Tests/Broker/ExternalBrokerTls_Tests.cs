using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Broker;

/// <summary>
/// The external-broker subscriber over TLS (Gateway:Broker:External:UseTls) against a real Mosquitto 2 with a TLS listener
/// and a PKI generated at test time; a real device uplink publishes over TLS too. The gateway stores to a SQLite file.
/// </summary>
public sealed class ExternalBrokerTls_Tests(ITestOutputHelper output) : IDisposable
{
    private const string Device = "dev-ext-tls";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    private readonly TempDirectory _pkiDir = new();

    public void Dispose() => _pkiDir.Dispose();

    private static Action<GatewayOptions> External(int port, string? caPemPath, string? serverName = null) => o =>
    {
        o.Broker = new BrokerOptions
        {
            Mode = BrokerMode.External,
            External = new ExternalBrokerOptions
            {
                Port = port,
                ClientId = "gw-tls",
                UseTls = true,
                CaCertificatePemPath = caPemPath,
                TlsServerName = serverName,
                // Liveness bound of the start-up connect: a refused certificate fails at once, a TLS connect on a loaded
                // CI machine can take seconds, and a timeout there would fail the start this test expects to succeed.
                Timeout = TimeSpan.FromSeconds(60),
            },
        };
    };

    [Fact]
    public async Task Stores_exactly_once_what_a_device_publishes_when_the_gateway_subscribes_over_tls()
    {
        TestCertificates pki = TestCertificates.Create(_pkiDir.Path, Device);
        using LocalMosquitto broker = LocalMosquitto.Start(null, null, pki.BrokerTls);
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(External(broker.TlsPort, pki.CaPem));
        var outbox = new InMemoryOutboxQueue();
        for (int i = 0; i < 10; i++)
        {
            outbox.Enqueue(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, i)), Wire.ConfigHash);
        }

        await using (var uplink = new MqttUplink(Wire.UplinkOptions(broker.TlsPort, Device, useTls: true, caPemPath: pki.CaPem), outbox))
        {
            uplink.Start();
            await TestWait.UntilAsync(() => outbox.Count == 0, Timeout, () => $"{outbox.Count} left in the outbox; uplink: {uplink.LastError}\n{broker.Log()}");
            await uplink.StopAsync();
        }
        await TestWait.UntilAsync(() => gateway.Store.Count().Detections == 10, Timeout,
            () => $"{gateway.Store.Count()}\n{string.Join('\n', gateway.Log.Lines)}");

        Assert.Equal(10, gateway.Store.Count().Messages);
        Assert.Equal(0, gateway.Store.Count().Quarantined);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), gateway.Store.ReadSequences(Device));
        Assert.Contains(gateway.Log.Lines, l => l.Contains($"on 127.0.0.1:{broker.TlsPort} as 'gw-tls'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_to_start_against_a_broker_it_cannot_verify_and_says_why()
    {
        TestCertificates pki = TestCertificates.Create(_pkiDir.Path, Device);
        using LocalMosquitto broker = LocalMosquitto.Start(null, null, pki.BrokerTls);

        var wrongCa = await Assert.ThrowsAsync<InvalidOperationException>(() => InProcessGateway.StartAsync(External(broker.TlsPort, pki.OtherCaPem)));
        output.WriteLine("wrong CA: " + wrongCa.Message);
        Assert.Contains($"cannot reach the external MQTT broker 127.0.0.1:{broker.TlsPort}: TLS: external broker certificate 'CN=127.0.0.1' "
            + $"issued by 'CN=EdgeKws Test CA' does not chain to the CA in '{pki.OtherCaPem}'", wrongCa.Message, StringComparison.Ordinal);

        var noCa = await Assert.ThrowsAsync<InvalidOperationException>(() => InProcessGateway.StartAsync(External(broker.TlsPort, caPemPath: null)));
        output.WriteLine("no CA: " + noCa.Message);
        Assert.Contains("is not trusted by the system trust store", noCa.Message, StringComparison.Ordinal);
        Assert.Contains("set Gateway:Broker:External:CaCertificatePemPath", noCa.Message, StringComparison.Ordinal);

        var wrongName = await Assert.ThrowsAsync<InvalidOperationException>(
            () => InProcessGateway.StartAsync(External(broker.TlsPort, pki.CaPem, serverName: "broker.example")));
        output.WriteLine("wrong name: " + wrongName.Message);
        Assert.Contains("certificate 'CN=127.0.0.1' is not issued for 'broker.example'", wrongName.Message, StringComparison.Ordinal);
    }
}
