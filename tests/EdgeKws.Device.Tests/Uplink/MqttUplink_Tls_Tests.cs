using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Uplink;

/// <summary>
/// TLS against Mosquitto with a PKI generated at test time: the broker requires a client certificate on its
/// TLS listener; the test's subscriber reads on a plain loopback listener of the same broker.
/// </summary>
public class MqttUplink_Tls_Tests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120); // liveness only

    private static async Task<(MosquittoBroker Broker, TestCertificates Pki, int TlsPort)> StartTlsBrokerAsync()
    {
        int tlsPort = UplinkTestKit.FreePort();
        TestCertificates? pki = null;
        MosquittoBroker broker = MosquittoBroker.Create(
            "allow_anonymous true\n"
            + $"listener {tlsPort} 127.0.0.1\ncafile {{dir}}/ca.pem\ncertfile {{dir}}/server.pem\nkeyfile {{dir}}/server.key\n"
            + "require_certificate true\nuse_identity_as_username true",
            prepareDirectory: dir => pki = TestCertificates.Create(dir, UplinkTestKit.DeviceId));
        await broker.StartAsync();
        return (broker, pki!, tlsPort);
    }

    private static MqttUplinkOptions TlsOptions(int port, TestCertificates pki, string? ca, bool clientCert = true) => new()
    {
        DeviceId = UplinkTestKit.DeviceId,
        Host = "127.0.0.1",
        Port = port,
        UseTls = true,
        CaCertificatePemPath = ca,
        ClientCertificatePemPath = clientCert ? pki.ClientPem : null,
        ClientKeyPemPath = clientCert ? pki.ClientKey : null,
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
        // A liveness bound only (a refused handshake fails at once): a PUBACK late on a loaded machine must not cost a re-send.
        OperationTimeout = TimeSpan.FromSeconds(60),
    };

    [Fact]
    public async Task Delivers_over_tls_with_the_ca_and_a_client_certificate()
    {
        (MosquittoBroker broker, TestCertificates pki, int tlsPort) = await StartTlsBrokerAsync();
        await using MosquittoBroker _ = broker;
        await using var subscriber = new RecordingSubscriber(broker.Port);
        await subscriber.ConnectAsync(Timeout);
        var outbox = new InMemoryOutboxQueue();
        for (int i = 1; i <= 5; i++)
        {
            outbox.Enqueue(Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Detection), UplinkTestKit.DetectionPayload(i), UplinkTestKit.ConfigHash);
        }
        await using var uplink = new MqttUplink(TlsOptions(tlsPort, pki, pki.CaPem), outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => subscriber.DistinctSequenceCount == 5, Timeout, () => $"{uplink.LastError}\n{broker.Log}");
        Assert.Equal([1L, 2, 3, 4, 5], subscriber.Sequences);
        Assert.Equal(5, outbox.Acknowledged.Length);
        Assert.Contains($"as {UplinkTestKit.DeviceId} ", broker.Log, StringComparison.Ordinal); // identity from the client certificate
    }

    [Fact]
    public async Task Refuses_a_broker_it_cannot_verify_without_the_ca_and_says_why()
    {
        (MosquittoBroker broker, TestCertificates pki, int tlsPort) = await StartTlsBrokerAsync();
        await using MosquittoBroker _ = broker;
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Heartbeat), [1], null);

        await using (var noCa = new MqttUplink(TlsOptions(tlsPort, pki, ca: null), outbox))
        {
            noCa.Start();
            await UplinkTestKit.WaitUntilAsync(() => noCa.Stats.ConnectAttempts >= 2, Timeout, () => $"attempts: {noCa.LastError}");
            output.WriteLine("no CA: " + noCa.LastError);
            Assert.Equal(0, noCa.Stats.Connects);
            Assert.Contains("TLS: broker certificate 'CN=127.0.0.1' issued by 'CN=EdgeKws Test CA' is not trusted by the system trust store",
                noCa.LastError, StringComparison.Ordinal);
            Assert.Contains("UntrustedRoot", noCa.LastError, StringComparison.Ordinal);
            Assert.Contains("set CaCertificatePemPath", noCa.LastError, StringComparison.Ordinal);
        }

        await using (var wrongCa = new MqttUplink(TlsOptions(tlsPort, pki, pki.OtherCaPem), outbox))
        {
            wrongCa.Start();
            await UplinkTestKit.WaitUntilAsync(() => wrongCa.Stats.ConnectAttempts >= 2, Timeout, () => $"attempts: {wrongCa.LastError}");
            output.WriteLine("wrong CA: " + wrongCa.LastError);
            Assert.Equal(0, wrongCa.Stats.Connects);
            Assert.Contains($"does not chain to the CA in '{pki.OtherCaPem}'", wrongCa.LastError, StringComparison.Ordinal);
        }
        Assert.Equal(1, outbox.Count);
    }

    [Fact]
    public async Task Is_refused_by_the_broker_without_a_client_certificate()
    {
        (MosquittoBroker broker, TestCertificates pki, int tlsPort) = await StartTlsBrokerAsync();
        await using MosquittoBroker _ = broker;
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Heartbeat), [1], null);
        await using var uplink = new MqttUplink(TlsOptions(tlsPort, pki, pki.CaPem, clientCert: false), outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => uplink.Stats.ConnectAttempts >= 2, Timeout, () => $"attempts: {uplink.LastError}");
        output.WriteLine("no client certificate: " + uplink.LastError);
        Assert.Equal(0, uplink.Stats.Connects);
        Assert.Contains("no client certificate is configured", uplink.LastError, StringComparison.Ordinal);
        Assert.Equal(1, outbox.Count);
    }

    [Fact]
    public void Rejects_options_naming_a_missing_certificate_file()
    {
        var ex = Assert.Throws<ArgumentException>(() => new MqttUplink(new MqttUplinkOptions
        {
            DeviceId = UplinkTestKit.DeviceId,
            UseTls = true,
            CaCertificatePemPath = "/nonexistent/ca.pem",
        }, new InMemoryOutboxQueue()));
        Assert.Contains("CaCertificatePemPath '/nonexistent/ca.pem' does not exist", ex.Message, StringComparison.Ordinal);
        var half = Assert.Throws<ArgumentException>(() => new MqttUplinkOptions
        {
            DeviceId = UplinkTestKit.DeviceId,
            UseTls = true,
            ClientCertificatePemPath = "/etc/hostname",
        }.Validate());
        Assert.Contains("must be set together", half.Message, StringComparison.Ordinal);
        var badId = Assert.Throws<ArgumentException>(() => new MqttUplinkOptions { DeviceId = "dev/1" }.Validate());
        Assert.Contains("DeviceId: device id 'dev/1' has a disallowed character '/'", badId.Message, StringComparison.Ordinal);
    }
}
