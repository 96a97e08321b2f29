using System.CommandLine;
using System.CommandLine.Help;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.IngestBench;
using EdgeKws.LocalServers;
using EdgeKws.Shared.Contracts;
using EdgeKws.Tools.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

// Sustained ingest load test: N simulated devices publish M detections each over MQTT 5 (QoS 1, one message in flight per
// device, as the device uplink does) into
//   sqlite:   one gateway with the embedded MQTTnet broker and a SQLite file (Durability Full), or
//   postgres: Mosquitto + two gateway instances behind $share/edgekws-gateway/... + PostgreSQL 15,
// all real servers on 127.0.0.1 started by this tool. It reports messages/s, publish->commit latency percentiles and the
// loss count. BenchmarkDotNet is the wrong tool here: it times a small method over many short isolated iterations and
// reports per-call statistics, while this is one long open run across processes and servers whose answer is a rate,
// a tail latency under load and a correctness count.
//
// Usage: EdgeKws.IngestBench ingest --target sqlite|postgres [--devices 20] [--messages 500] [--timeout-s 300] (docs/cli.md)
Option<string> targetOption = new("--target")
{
    HelpName = "sqlite|postgres",
    DefaultValueFactory = _ => "sqlite",
    Description = "sqlite: one gateway, embedded broker, SQLite file; postgres: Mosquitto + two gateway instances (shared subscription) + PostgreSQL",
};
targetOption.MustBe(t => t is "sqlite" or "postgres", "sqlite or postgres");
Option<int> devicesOption = new Option<int>("--devices") { HelpName = "N", DefaultValueFactory = _ => 20, Description = "simulated devices (1..1000), one MQTT 5 client each" }
    .MustBe(n => n is >= 1 and <= 1000, "in 1..1000");
Option<int> messagesOption = new Option<int>("--messages") { HelpName = "M", DefaultValueFactory = _ => 500, Description = "detections each device publishes (1..1000000)" }
    .MustBe(n => n is >= 1 and <= 1_000_000, "in 1..1000000");
Option<int> timeoutOption = new Option<int>("--timeout-s") { HelpName = "S", DefaultValueFactory = _ => 300, Description = "give up waiting for commits after S seconds" }
    .MustBe(n => n >= 1, ">= 1");
var ingest = new Command("ingest", "Sustained ingest: N devices publish M detections each (QoS 1, one in flight per device); prints messages/s, publish->commit latency percentiles and the loss count; exit 1 if anything was lost or refused.")
{
    targetOption, devicesOption, messagesOption, timeoutOption,
};
(string Target, int Devices, int Messages, int TimeoutS)? parsed = null;
ingest.SetAction(parse =>
{
    parsed = (parse.GetRequiredValue(targetOption), parse.GetValue(devicesOption), parse.GetValue(messagesOption), parse.GetValue(timeoutOption));
    return 0;
});
int usage = ToolCommandLine.Invoke(new Command("EdgeKws.IngestBench", "Sustained ingest load test of the gateway (real servers on 127.0.0.1).") { new HelpOption(), ingest }, args, Console.Out, Console.Error);
if (parsed is not { } run)
{
    return usage; // help (0) or a usage error (2)
}

string target = run.Target;
int devices = run.Devices;
int messages = run.Messages;
var timeout = TimeSpan.FromSeconds(run.TimeoutS);

const string DevicePassword = "bench-device-password";
const string GatewayPassword = "bench-gateway-password";
string configHash = Convert.ToHexStringLower(SHA256.HashData("edgekws ingest bench"u8));
string[] ids = Enumerable.Range(0, devices).Select(i => $"bench-{i:D4}").ToArray();
string dir = Path.Combine(Path.GetTempPath(), "edgekws-ingestbench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(dir);

var cleanup = new List<IDisposable>();
var asyncCleanup = new List<IAsyncDisposable>();
var stores = new List<TimingStore>();
var pipelines = new List<IngestPipeline>();
var metrics = new List<GatewayMetrics>();
try
{
    int port;
    if (target == "sqlite")
    {
        var store = new TimingStore(SqliteGatewayStore.Open(new StoreOptions { DatabasePath = Path.Combine(dir, "gateway.db") }));
        Provision(store);
        IngestPipeline pipeline = StartPipeline(store);
        port = LoopbackPorts.Free();
        var broker = new EmbeddedBroker(new BrokerOptions { Port = port }, store, pipeline, new GatewayMetrics(), NullLogger.Instance);
        await broker.StartAsync();
        asyncCleanup.Add(broker);
    }
    else
    {
        LocalPostgres pg = LocalPostgres.Start();
        cleanup.Add(pg);
        var storeOptions = new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = pg.ConnectionString(pg.CreateDatabase("bench")) };
        string passwd = Path.Combine(dir, "passwd"), acl = Path.Combine(dir, "acl");
        using (IGatewayStore setup = GatewayStores.Open(storeOptions))
        {
            Provision(setup);
            MosquittoAuthExport.Write(MosquittoAuthExport.Build(setup, ["gw-a", "gw-b"]), passwd, acl);
        }
        LocalMosquitto.AddPassword(passwd, "gw-a", GatewayPassword);
        LocalMosquitto.AddPassword(passwd, "gw-b", GatewayPassword);
        LocalMosquitto mosquitto = LocalMosquitto.Start(passwd, acl);
        cleanup.Add(mosquitto);
        port = mosquitto.Port;
        foreach (string instance in new[] { "gw-a", "gw-b" })
        {
            var store = new TimingStore(GatewayStores.Open(storeOptions));
            IngestPipeline pipeline = StartPipeline(store);
            var sub = new ExternalBrokerSubscriber(new ExternalBrokerOptions { Port = port, ClientId = instance, Username = instance, Password = GatewayPassword },
                pipeline, NullLogger.Instance);
            await sub.StartAsync(CancellationToken.None);
            asyncCleanup.Add(sub);
        }
    }

    // One MQTT 5 client per simulated device, publishing what the device uplink publishes.
    var sentAt = new long[devices, messages];
    var clients = new IMqttClient[devices];
    for (int d = 0; d < devices; d++)
    {
        clients[d] = new MqttClientFactory().CreateMqttClient();
        MqttClientConnectResult r = await clients[d].ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port).WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(ids[d]).WithCredentials(ids[d], DevicePassword).WithTimeout(TimeSpan.FromSeconds(30)).Build());
        if (r.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException($"device {ids[d]} could not connect: {r.ResultCode}");
        }
    }
    using var deadline = new CancellationTokenSource(timeout);
    long refused = 0;
    var wall = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, devices).Select(d => Task.Run(async () =>
    {
        for (int i = 0; i < messages; i++)
        {
            MqttApplicationMessage m = Detection(ids[d], i + 1);
            sentAt[d, i] = Stopwatch.GetTimestamp();
            MqttClientPublishResult p = await clients[d].PublishAsync(m, deadline.Token);
            if (p.ReasonCode != MqttClientPublishReasonCode.Success)
            {
                Interlocked.Increment(ref refused);
            }
        }
    })));
    long expected = (long)devices * messages;
    while (stores.Sum(s => s.CommittedAt.Count) < expected && !deadline.IsCancellationRequested)
    {
        await Task.Delay(5);
    }
    double seconds = wall.Elapsed.TotalSeconds;
    foreach (IMqttClient c in clients)
    {
        await c.DisconnectAsync();
        c.Dispose();
    }

    var latenciesMs = new List<double>((int)expected);
    long lost = 0;
    for (int d = 0; d < devices; d++)
    {
        for (int i = 0; i < messages; i++)
        {
            long committed = 0;
            bool found = stores.Any(s => s.CommittedAt.TryGetValue((ids[d], i + 1), out committed));
            if (found)
            {
                latenciesMs.Add(Stopwatch.GetElapsedTime(sentAt[d, i], committed).TotalMilliseconds);
            }
            else
            {
                lost++;
            }
        }
    }
    // Loss is also checked in the database itself: every (device, sequence) exactly once.
    long inDb = 0;
    foreach (string id in ids)
    {
        IReadOnlyList<long> seqs = stores[0].ReadSequences(id);
        inDb += seqs.Count;
        if (!seqs.SequenceEqual(Enumerable.Range(1, messages).Select(x => (long)x)))
        {
            lost += messages - seqs.Count;
        }
    }
    latenciesMs.Sort();
    double P(double q) => latenciesMs.Count == 0 ? double.NaN : latenciesMs[Math.Min(latenciesMs.Count - 1, (int)Math.Ceiling(q * latenciesMs.Count) - 1)];
    string split = string.Join(" / ", stores.Select(s => s.CommittedAt.Count.ToString(CultureInfo.InvariantCulture)));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"target={target} devices={devices} messages/device={messages} total={expected} time={seconds:0.00}s rate={expected / seconds:0} msg/s " +
        $"latency publish->commit p50={P(0.50):0.0}ms p99={P(0.99):0.0}ms max={P(1.0):0.0}ms stored-in-db={inDb} lost={lost} refused={refused} per-instance={split} " +
        $"batches={pipelinesBatches()}"));
    return lost == 0 && refused == 0 && inDb == expected ? 0 : 1;
}
finally
{
    foreach (IAsyncDisposable a in asyncCleanup)
    {
        await a.DisposeAsync();
    }
    foreach (IngestPipeline p in pipelines)
    {
        await p.CompleteAsync();
    }
    foreach (TimingStore s in stores)
    {
        s.Dispose();
    }
    foreach (IDisposable c in Enumerable.Reverse(cleanup))
    {
        c.Dispose();
    }
    Directory.Delete(dir, recursive: true);
}

string pipelinesBatches() => string.Join(" / ", metrics.Select(m => m.Snapshot().Batches.ToString(CultureInfo.InvariantCulture)));

IngestPipeline StartPipeline(TimingStore store)
{
    var m = new GatewayMetrics();
    metrics.Add(m);
    var p = new IngestPipeline(store, new IngestOptions(), m, NullLogger.Instance);
    p.Start();
    stores.Add(store);
    pipelines.Add(p);
    return p;
}

void Provision(IGatewayStore store)
{
    // Few PBKDF2 iterations: connection set-up is not what this measures.
    foreach (string id in ids)
    {
        store.SetDeviceCredential(id, PasswordHash.Create(DevicePassword, iterations: 1_000));
    }
}

MqttApplicationMessage Detection(string id, int seq)
{
    byte[] payload = WireJson.Serialize(new DetectionReport
    {
        DeviceId = id,
        DeviceTimeUtc = DateTimeOffset.UtcNow,
        StreamOffsetMs = seq * 1000L,
        Score = 0.9f,
        Keyword = "hey edge",
        ModelVersion = "kws-1.0.0",
        FeatureConfigHash = configHash,
    });
    return new MqttApplicationMessageBuilder()
        .WithTopic(Topics.Uplink(id, MessageKind.Detection))
        .WithPayload(payload)
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .WithContentType(ContentTypes.Json)
        .WithUserProperty(UserProperties.Sequence, Encoding.UTF8.GetBytes(seq.ToString(CultureInfo.InvariantCulture)))
        .WithUserProperty(UserProperties.SchemaVersion, "1"u8.ToArray())
        .WithUserProperty(UserProperties.MessageKind, Encoding.UTF8.GetBytes(Topics.KindSegment(MessageKind.Detection)))
        .WithUserProperty(UserProperties.FeatureConfigHash, Encoding.UTF8.GetBytes(configHash))
        .Build();
}
