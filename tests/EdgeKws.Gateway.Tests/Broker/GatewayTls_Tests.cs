using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Broker;

/// <summary>
/// The embedded broker's TLS listener (Gateway:Broker:Tls) with a PKI generated at test time: a real device uplink
/// connects over TLS to an in-process gateway with a SQLite file. The plain listener is off (Port 0), so TLS is the
/// only way in. The embedded broker has no setting to require a client certificate: devices authenticate with their
/// provisioned password inside the TLS session.
/// </summary>
public sealed class GatewayTls_Tests(ITestOutputHelper output) : IDisposable
{
    private const string Device = "dev-tls";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180); // liveness only

    private readonly TempDirectory _pkiDir = new();

    public void Dispose() => _pkiDir.Dispose();

    private Task<InProcessGateway> StartTlsGatewayAsync(TestCertificates pki) =>
        InProcessGateway.StartAsync(o =>
        {
            o.Broker.Port = 0; // TLS only
            o.Broker.Tls = new Configuration.TlsOptions
            {
                Enabled = true,
                Port = TestWait.FreeLoopbackPort(),
                CertificatePemPath = pki.ServerPem,
                KeyPemPath = pki.ServerKey,
            };
        }, Device);

    [Fact]
    public async Task Stores_what_a_device_sends_over_tls_exactly_once_when_it_trusts_the_ca()
    {
        TestCertificates pki = TestCertificates.Create(_pkiDir.Path, Device);
        await using InProcessGateway gateway = await StartTlsGatewayAsync(pki);
        var outbox = new InMemoryOutboxQueue();
        for (int i = 0; i < 10; i++)
        {
            outbox.Enqueue(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, i)), Wire.ConfigHash);
        }
        outbox.Enqueue(Topics.Uplink(Device, MessageKind.ClipAudio), Wire.AudioClip(Guid.NewGuid()), Wire.ConfigHash);

        await using (var uplink = new MqttUplink(Wire.UplinkOptions(gateway.Options.Broker.Tls.Port, Device, useTls: true, caPemPath: pki.CaPem), outbox))
        {
            uplink.Start();
            await TestWait.UntilAsync(() => outbox.Count == 0, Timeout, () => $"{outbox.Count} left in the outbox; uplink: {uplink.LastError}");
            Assert.Empty(outbox.DeadLettered);
            Assert.Equal(11, uplink.Stats.Acknowledged);
            await uplink.StopAsync();
        }

        StoreCounts counts = gateway.Store.Count();
        Assert.Equal(11, counts.Messages);
        Assert.Equal(10, counts.Detections);
        Assert.Equal(1, counts.Clips);
        Assert.Equal(0, counts.Quarantined);
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), gateway.Store.ReadSequences(Device));
        Assert.Contains(gateway.Log.Lines, l => l.Contains($"TLS port {gateway.Options.Broker.Tls.Port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_to_connect_without_the_ca_or_with_another_ca_says_why_and_stores_nothing()
    {
        TestCertificates pki = TestCertificates.Create(_pkiDir.Path, Device);
        await using InProcessGateway gateway = await StartTlsGatewayAsync(pki);
        int port = gateway.Options.Broker.Tls.Port;
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, 1)), Wire.ConfigHash);

        await using (var noCa = new MqttUplink(Wire.UplinkOptions(port, Device, useTls: true, caPemPath: null), outbox))
        {
            noCa.Start();
            await TestWait.UntilAsync(() => noCa.Stats.ConnectAttempts >= 2, Timeout, () => $"attempts: {noCa.LastError}");
            output.WriteLine("no CA: " + noCa.LastError);
            Assert.Equal(0, noCa.Stats.Connects);
            Assert.Contains("TLS: broker certificate 'CN=127.0.0.1' issued by 'CN=EdgeKws Test CA' is not trusted by the system trust store",
                noCa.LastError, StringComparison.Ordinal);
            Assert.Contains("set CaCertificatePemPath", noCa.LastError, StringComparison.Ordinal);
        }

        await using (var wrongCa = new MqttUplink(Wire.UplinkOptions(port, Device, useTls: true, caPemPath: pki.OtherCaPem), outbox))
        {
            wrongCa.Start();
            await TestWait.UntilAsync(() => wrongCa.Stats.ConnectAttempts >= 2, Timeout, () => $"attempts: {wrongCa.LastError}");
            output.WriteLine("wrong CA: " + wrongCa.LastError);
            Assert.Equal(0, wrongCa.Stats.Connects);
            Assert.Contains($"does not chain to the CA in '{pki.OtherCaPem}'", wrongCa.LastError, StringComparison.Ordinal);
        }

        Assert.Equal(1, outbox.Count);
        Assert.Equal(0, gateway.Store.Count().Messages);
        Assert.Empty(gateway.Store.ReadSequences(Device));
        // The handshake failed before CONNECT, so the broker never saw credentials.
        Assert.Equal(0, gateway.Service.Metrics.Snapshot().AuthFailures);
    }

    [Fact]
    public async Task Refuses_a_wrong_password_inside_a_trusted_tls_session()
    {
        TestCertificates pki = TestCertificates.Create(_pkiDir.Path, Device);
        await using InProcessGateway gateway = await StartTlsGatewayAsync(pki);
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, 1)), Wire.ConfigHash);
        MqttUplinkOptions good = Wire.UplinkOptions(gateway.Options.Broker.Tls.Port, Device, useTls: true, caPemPath: pki.CaPem);
        var wrongPassword = new MqttUplinkOptions
        {
            DeviceId = good.DeviceId,
            Host = good.Host,
            Port = good.Port,
            Username = good.Username,
            Password = "not-the-password",
            UseTls = true,
            CaCertificatePemPath = good.CaCertificatePemPath,
            InitialBackoff = good.InitialBackoff,
            MaxBackoff = good.MaxBackoff,
            OperationTimeout = good.OperationTimeout,
        };

        await using (var uplink = new MqttUplink(wrongPassword, outbox))
        {
            uplink.Start();
            await TestWait.UntilAsync(() => gateway.Service.Metrics.Snapshot().AuthFailures >= 1, Timeout, () => $"uplink: {uplink.LastError}");
            Assert.Equal(0, uplink.Stats.Connects);
        }

        Assert.Equal(1, outbox.Count);
        Assert.Equal(0, gateway.Store.Count().Messages);
        Assert.Contains(gateway.Log.Lines, l => l.Contains("wrong password", StringComparison.Ordinal));
    }

    [Fact]
    public void Rejects_tls_options_naming_a_missing_key_file()
    {
        var tls = new Configuration.TlsOptions { Enabled = true, CertificatePemPath = "/etc/hostname", KeyPemPath = "/nonexistent/server.key" };
        var ex = Assert.Throws<ArgumentException>(tls.Validate);
        Assert.Equal("Gateway:Broker:Tls:KeyPemPath '/nonexistent/server.key' does not exist", ex.Message);
    }
}
