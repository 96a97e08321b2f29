using System.Diagnostics;
using System.Globalization;
using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Storage;
using EdgeKws.Shared.Contracts;
using MQTTnet;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Broker;

/// <summary>
/// Scale-out with real servers on loopback: Mosquitto 2 (password file and ACL exported from the gateway's store) and
/// PostgreSQL 15, two gateway instances behind the shared subscription <c>$share/edgekws-gateway/edgekws/v1/+/+</c>,
/// and real device uplinks (in-memory outbox) publishing QoS 1.
/// </summary>
[Collection("postgres")]
public sealed class ExternalBrokerScaleOut_Tests(PostgresFixture postgres, ITestOutputHelper output) : IDisposable
{
    private const string GatewayPassword = "gateway-broker-password";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Provisions devices in a fresh PostgreSQL database, exports them to Mosquitto and starts the broker.</summary>
    private (StoreOptions Store, LocalMosquitto Broker) Setup(IEnumerable<string> devices)
    {
        var store = new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = postgres.Server.ConnectionString(postgres.Server.CreateDatabase()) };
        string passwd = _dir.File("passwd"), acl = _dir.File("acl");
        using (IGatewayStore s = GatewayStores.Open(store))
        {
            foreach (string d in devices)
            {
                s.SetDeviceCredential(d, PasswordHash.Create(InProcessGateway.Password, iterations: 1_000));
            }
            MosquittoAuthFiles files = MosquittoAuthExport.Build(s, ["gw-a", "gw-b"]);
            Assert.Empty(files.Skipped);
            MosquittoAuthExport.Write(files, passwd, acl);
        }
        LocalMosquitto.AddPassword(passwd, "gw-a", GatewayPassword);
        LocalMosquitto.AddPassword(passwd, "gw-b", GatewayPassword);
        return (store, LocalMosquitto.Start(passwd, acl));
    }

    private static GatewayOptions External(StoreOptions store, int brokerPort, string instance) => new()
    {
        Store = store,
        Broker = new BrokerOptions
        {
            Mode = BrokerMode.External,
            External = new ExternalBrokerOptions { Port = brokerPort, ClientId = instance, Username = instance, Password = GatewayPassword },
        },
    };

    private static string[] ExternalArgs(StoreOptions store, int brokerPort, string instance) =>
    [
        "--Gateway:Store:Provider=Postgres",
        "--Gateway:Store:ConnectionString=" + store.ConnectionString,
        "--Gateway:Broker:Mode=External",
        "--Gateway:Broker:External:Port=" + brokerPort.ToString(CultureInfo.InvariantCulture),
        "--Gateway:Broker:External:ClientId=" + instance,
        "--Gateway:Broker:External:Username=" + instance,
        "--Gateway:Broker:External:Password=" + GatewayPassword,
    ];

    private static (string Device, InMemoryOutboxQueue Outbox)[] Outboxes(int devices, int messages)
    {
        var list = new (string, InMemoryOutboxQueue)[devices];
        for (int d = 0; d < devices; d++)
        {
            string id = $"dev-{d:D3}";
            var outbox = new InMemoryOutboxQueue();
            for (int i = 1; i <= messages; i++)
            {
                outbox.Enqueue(Topics.Uplink(id, MessageKind.Detection), WireJson.Serialize(Wire.Detection(id, i)), Wire.ConfigHash);
            }
            list[d] = (id, outbox);
        }
        return list;
    }

    private static void AssertExactlyOnce(IGatewayStore store, (string Device, InMemoryOutboxQueue Outbox)[] outboxes, int messages)
    {
        foreach ((string device, InMemoryOutboxQueue outbox) in outboxes)
        {
            Assert.Empty(outbox.DeadLettered);
            Assert.Equal(Enumerable.Range(1, messages).Select(i => (long)i), store.ReadSequences(device));
        }
        StoreCounts c = store.Count();
        Assert.Equal((long)outboxes.Length * messages, c.Detections);
        Assert.Equal(0, c.Quarantined);
    }

    [Fact]
    public async Task Two_instances_behind_a_shared_subscription_split_the_load_and_store_every_message_once()
    {
        const int Devices = 8, Messages = 150;
        (string Device, InMemoryOutboxQueue Outbox)[] outboxes = Outboxes(Devices, Messages);
        (StoreOptions store, LocalMosquitto broker) = Setup(outboxes.Select(o => o.Device));
        using (broker)
        {
            var services = new[]
            {
                new GatewayService(Microsoft.Extensions.Options.Options.Create(External(store, broker.Port, "gw-a"))),
                new GatewayService(Microsoft.Extensions.Options.Options.Create(External(store, broker.Port, "gw-b"))),
            };
            foreach (GatewayService s in services)
            {
                await s.StartAsync(CancellationToken.None);
            }
            var uplinks = outboxes.Select(o => new MqttUplink(Wire.UplinkOptions(broker.Port, o.Device), o.Outbox)).ToList();
            var sw = Stopwatch.StartNew();
            uplinks.ForEach(u => u.Start());
            try
            {
                await TestWait.UntilAsync(() => outboxes.All(o => o.Outbox.Count == 0), Timeout,
                    () => $"{outboxes.Sum(o => o.Outbox.Count)} not yet acknowledged by the broker; {uplinks[0].LastError}; {broker.Log()}");
                await TestWait.UntilAsync(() => services.Sum(s => s.Metrics.Snapshot().Stored) >= Devices * Messages, Timeout,
                    () => $"stored {services.Sum(s => s.Metrics.Snapshot().Stored)} of {Devices * Messages}");
                sw.Stop();
            }
            finally
            {
                foreach (MqttUplink u in uplinks)
                {
                    await u.DisposeAsync();
                }
            }
            GatewayMetricsSnapshot a = services[0].Metrics.Snapshot(), b = services[1].Metrics.Snapshot();
            foreach (GatewayService s in services)
            {
                await s.DisposeAsync();
            }
            output.WriteLine($"{Devices}x{Messages} through Mosquitto into PostgreSQL in {sw.Elapsed.TotalSeconds:0.0} s: gw-a stored {a.Stored} in {a.Batches} batches, gw-b stored {b.Stored} in {b.Batches} batches");
            Assert.True(a.Stored > 0 && b.Stored > 0, $"both instances must take part: gw-a stored {a.Stored}, gw-b {b.Stored}");
            // Stored also counts each uplink's presence messages (Online at connect, Offline at shutdown): no sequence, no ledger row.
            Assert.InRange(a.Stored + b.Stored, Devices * Messages, Devices * (Messages + 2));
            Assert.Equal(0, a.Duplicates + b.Duplicates + a.Quarantined + b.Quarantined + a.Failed + b.Failed);
            using IGatewayStore check = GatewayStores.Open(store);
            AssertExactlyOnce(check, outboxes, Messages);
        }
    }

    [Fact]
    public async Task Mosquitto_refuses_a_wrong_password_and_a_foreign_topic_from_the_exported_credentials()
    {
        (StoreOptions store, LocalMosquitto broker) = Setup(["dev-own", "dev-other"]);
        using (broker)
        await using (var gateway = new GatewayService(Microsoft.Extensions.Options.Options.Create(External(store, broker.Port, "gw-a"))))
        {
            await gateway.StartAsync(CancellationToken.None);
            await using (var wrong = new RawPublisher())
            {
                MqttClientConnectResult r = await wrong.TryConnectAsync(broker.Port, "dev-own", "not-the-password");
                Assert.NotEqual(MqttClientConnectResultCode.Success, r.ResultCode);
            }
            await using RawPublisher own = await RawPublisher.ConnectAsync(broker.Port, "dev-own");
            byte[] foreign = WireJson.Serialize(Wire.Detection("dev-other", 1));
            MqttClientPublishReasonCode refused = await own.PublishAsync(Topics.Uplink("dev-other", MessageKind.Detection), foreign,
                Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash));
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused);
            // Mosquitto 2.0 also closes the connection of a client that published outside its ACL.
            await using RawPublisher again = await RawPublisher.ConnectAsync(broker.Port, "dev-own");
            MqttClientPublishReasonCode ok = await again.PublishAsync(Topics.Uplink("dev-own", MessageKind.Detection),
                WireJson.Serialize(Wire.Detection("dev-own", 1)), Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash));
            Assert.Equal(MqttClientPublishReasonCode.Success, ok);
            await TestWait.UntilAsync(() => gateway.Metrics.Snapshot().Stored == 1, Timeout, () => $"{gateway.Metrics.Snapshot()}");
            Assert.Equal([1L], gateway.Store.ReadSequences("dev-own"));
            Assert.Empty(gateway.Store.ReadSequences("dev-other"));
            Assert.Contains("dev-own", broker.Log(), StringComparison.Ordinal); // the broker logged the refused connection
        }
    }

    [Fact]
    public async Task An_instance_SIGKILLed_mid_stream_loses_and_doubles_nothing()
    {
        const int Devices = 8, Messages = 250;
        (string Device, InMemoryOutboxQueue Outbox)[] outboxes = Outboxes(Devices, Messages);
        (StoreOptions store, LocalMosquitto broker) = Setup(outboxes.Select(o => o.Device));
        using IGatewayStore check = GatewayStores.Open(store);
        using (broker)
        {
            GatewayChild a = await GatewayChild.StartAsync(_dir.Path, ExternalArgs(store, broker.Port, "gw-a"));
            GatewayChild b = await GatewayChild.StartAsync(_dir.Path, ExternalArgs(store, broker.Port, "gw-b"));
            var uplinks = outboxes.Select(o => new MqttUplink(Wire.UplinkOptions(broker.Port, o.Device), o.Outbox)).ToList();
            uplinks.ForEach(u => u.Start());
            string stoppedA, stoppedB;
            long storedBeforeKill;
            try
            {
                int total = Devices * Messages;
                await TestWait.UntilAsync(() => check.Count().Messages >= total / 3, Timeout, () => $"{check.Count().Messages} stored; {a.Output()} {b.Output()}");
                b.Kill(); // SIGKILL while devices publish and both instances commit
                Assert.Equal(128 + 9, b.ExitCode);
                storedBeforeKill = check.Count().Messages;
                b.Dispose();
                // gw-a carries on alone; gw-b's session keeps its unacknowledged share on the broker.
                await TestWait.UntilAsync(() => check.Count().Messages >= storedBeforeKill + total / 4 || outboxes.All(o => o.Outbox.Count == 0), Timeout,
                    () => $"{check.Count().Messages} stored with gw-b down; {a.Output()}");
                b = await GatewayChild.StartAsync(_dir.Path, ExternalArgs(store, broker.Port, "gw-b")); // same client id: same session
                await TestWait.UntilAsync(() => outboxes.All(o => o.Outbox.Count == 0) && check.Count().Messages == total, Timeout,
                    () => $"{check.Count().Messages} of {total} stored, {outboxes.Sum(o => o.Outbox.Count)} unacknowledged by the broker; {a.Output()} {b.Output()}");
            }
            finally
            {
                foreach (MqttUplink u in uplinks)
                {
                    await u.DisposeAsync();
                }
            }
            stoppedA = await a.StopGracefullyAsync();
            stoppedB = await b.StopGracefullyAsync();
            a.Dispose();
            b.Dispose();
            output.WriteLine($"killed gw-b at {storedBeforeKill} stored; gw-a: {stoppedA}; restarted gw-b: {stoppedB}");
            Assert.True(GatewayChild.Counter(stoppedA, "Stored") > 0, stoppedA);
            Assert.True(GatewayChild.Counter(stoppedB, "Stored") > 0, "the restarted instance took no part: " + stoppedB);
            Assert.Equal(0, GatewayChild.Counter(stoppedA, "Quarantined") + GatewayChild.Counter(stoppedB, "Quarantined"));
        }
        AssertExactlyOnce(check, outboxes, Messages);
    }
}
