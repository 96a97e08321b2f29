using System.Text.Json;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Monitoring;

/// <summary>
/// The FA/hour denominator when heartbeats are lost. Devices with real outboxes (SQLite files) and real uplinks deliver
/// an hour of listening each, in 60 heartbeats, with 6 detections labelled false accepts, to the whole gateway (embedded
/// broker, SQLite, HTTP API). One delivers every heartbeat; one's outbox evicts most of them (a small quota, the gateway
/// away); one never stores every third (its writer queue was full). With cumulative totals all three report 1.00 listening
/// hour and 6.0 FA/hour, flagged complete. A device without totals (not yet updated) that lost heartbeats reports less
/// time, flagged incomplete, and so does a device whose totals restarted.
/// </summary>
public sealed class HeartbeatLoss_Tests(ITestOutputHelper output) : IDisposable
{
    private const string Model = "kws-1.0.0";
    private readonly TempDirectory _dir = new();
    private readonly DateTimeOffset _t0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds());

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Heartbeat_loss_does_not_change_the_fa_per_hour_denominator()
    {
        string[] devices = ["all", "evicted", "dropped", "legacy", "restarted"];
        await using WebGateway g = await WebGateway.StartAsync(devices);

        var falseAccepts = new List<(string Device, long Sequence)>();
        var outboxes = new Dictionary<string, OutboxStats>();
        foreach (string device in devices)
        {
            // "evicted": 256 KiB of disk hold 48 KiB of messages, less than 60 heartbeats with totals (~1.2 KB each),
            // so while the gateway is away the outbox evicts old heartbeats for new ones (the newest is always kept).
            using var outbox = OutboxStore.Open(new OutboxOptions
            {
                DatabasePath = _dir.File(device + ".db"),
                QuotaBytes = device == "evicted" ? OutboxOptions.MinQuotaBytes : OutboxOptions.DefaultQuotaBytes,
            });
            foreach ((OutboxMessageClass cls, string topic, byte[] payload, bool store) in Messages(device, outbox))
            {
                if (!store)
                {
                    outbox.RecordDropped(cls); // what the agent's writer does with a message its full queue dropped
                    continue;
                }
                EnqueueResult r = outbox.Enqueue(cls, topic, payload);
                Assert.True(r.IsAccepted, $"{device}: {cls} {r.Status}");
                if (cls == OutboxMessageClass.Detection)
                    falseAccepts.Add((device, r.Sequence));
            }
            outboxes[device] = outbox.GetStats();

            // The gateway comes back: the device's uplink drains what its outbox kept.
            var queue = new OutboxUplinkQueue(outbox, Wire.ConfigHash);
            await using (var uplink = new MqttUplink(Wire.UplinkOptions(g.BrokerPort, device), queue))
            {
                uplink.Start();
                await TestWait.UntilAsync(() => outbox.GetStats().TotalCount == 0, TimeSpan.FromMinutes(2), () => $"{device}: outbox not drained ({outbox.GetStats().TotalCount} left)");
            }
        }
        Assert.True(outboxes["evicted"].For(OutboxMessageClass.Heartbeat).EvictedCount >= 10,
            $"the small outbox evicted {outboxes["evicted"].For(OutboxMessageClass.Heartbeat).EvictedCount} heartbeats");

        (int status, _) = await g.SendJsonAsync(HttpMethod.Post, "/api/labels",
            falseAccepts.Select(d => new { deviceId = d.Device, sequence = d.Sequence, label = "FalseAccept", source = "test:ground-truth" }).ToArray());
        Assert.Equal(200, status);

        JsonElement fa = (await g.GetJsonAsync("/api/metrics/fa?window=24h&by=device")).GetProperty("groups");
        var byDevice = fa.EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!);
        foreach (string device in devices)
        {
            JsonElement d = byDevice[device];
            output.WriteLine($"{device}: {d.GetProperty("listeningHours").GetDouble():F4} h, FA/hour {d.GetProperty("faPerHour").GetDouble():F3}, " +
                $"complete {d.GetProperty("denominatorComplete").GetBoolean()}; heartbeats evicted on the device {outboxes[device].For(OutboxMessageClass.Heartbeat).EvictedCount}");
        }
        foreach (string device in new[] { "all", "evicted", "dropped" })
        {
            JsonElement d = byDevice[device];
            Assert.Equal(1.0, d.GetProperty("listeningHours").GetDouble(), 9);
            Assert.Equal(6.0, d.GetProperty("faPerHour").GetDouble(), 9);
            Assert.True(d.GetProperty("denominatorComplete").GetBoolean(), device);
            Assert.Equal(0, d.GetProperty("detectionsLost").GetInt64());
        }
        // Without totals a lost heartbeat takes its interval with it, and the reported evictions flag the window.
        Assert.Equal(41.0 / 60, byDevice["legacy"].GetProperty("listeningHours").GetDouble(), 9);
        Assert.False(byDevice["legacy"].GetProperty("denominatorComplete").GetBoolean());
        // Totals that restart lose the old epoch's tail: counted what is known, flagged.
        Assert.False(byDevice["restarted"].GetProperty("denominatorComplete").GetBoolean());
        JsonElement fleet = (await g.GetJsonAsync("/api/metrics/fa?window=24h&by=fleet")).GetProperty("groups")[0];
        Assert.False(fleet.GetProperty("denominatorComplete").GetBoolean());

        // The losses per device: the evicted and dropped heartbeats are counted where the gateway can see them.
        JsonElement evicted = await g.GetJsonAsync("/api/devices/evicted/losses");
        JsonElement evictedHeartbeats = evicted.GetProperty("sinceFirstStart").GetProperty("perKind").GetProperty("heartbeat");
        Assert.True(evictedHeartbeats.GetProperty("evicted").GetInt64() >= 10);
        Assert.Equal(3600.0, evicted.GetProperty("sinceFirstStart").GetProperty("listeningSeconds").GetDouble(), 9);
        JsonElement dropped = await g.GetJsonAsync("/api/devices/dropped/losses");
        Assert.Equal(19, dropped.GetProperty("sinceFirstStart").GetProperty("perKind").GetProperty("heartbeat").GetProperty("dropped").GetInt64());
        JsonElement window = dropped.GetProperty("windows").EnumerateArray().Single(w => w.GetProperty("window").GetString() == "24h");
        Assert.Equal(3600.0, window.GetProperty("listeningSeconds").GetDouble(), 9);
        JsonElement legacy = await g.GetJsonAsync("/api/devices/legacy/losses");
        Assert.Equal(JsonValueKind.Null, legacy.GetProperty("sinceFirstStart").ValueKind);
        Assert.True(legacy.GetProperty("windows")[1].GetProperty("legacyEvicted").GetInt64() > 0);
        using (HttpResponseMessage unknown = await g.Http.GetAsync("/api/devices/nobody/losses"))
            Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        output.WriteLine(evicted.ToString());
    }

    /// <summary>
    /// An hour of one device: a heartbeat a minute (60 s of listening each, totals as the agent builds them) and a
    /// detection every 10 minutes. Flags which messages are stored: "dropped" never stores every third heartbeat, "legacy"
    /// sends per-interval heartbeats without totals and loses every third, "restarted" starts a new epoch half-way.
    /// </summary>
    private IEnumerable<(OutboxMessageClass Class, string Topic, byte[] Payload, bool Store)> Messages(string device, OutboxStore outbox)
    {
        string epoch = outbox.TotalsEpoch;
        string heartbeatTopic = Topics.Uplink(device, MessageKind.Heartbeat), detectionTopic = Topics.Uplink(device, MessageKind.Detection);
        int detections = 0;
        for (int n = 1; n <= 60; n++)
        {
            if (n % 10 == 5)
            {
                detections++;
                var d = new DetectionReport
                {
                    DeviceId = device,
                    DeviceTimeUtc = _t0.AddMinutes(n - 0.5),
                    StreamOffsetMs = (n - 1) * 60_000L,
                    Score = 0.95f,
                    ModelVersion = Model,
                    FeatureConfigHash = Wire.ConfigHash,
                };
                yield return (OutboxMessageClass.Detection, detectionTopic, WireJson.Serialize(d), true);
            }
            bool lost = n % 3 == 0 && n < 60;
            bool restarted = device == "restarted" && n > 30;
            var h = new Heartbeat
            {
                DeviceId = device,
                DeviceTimeUtc = _t0.AddMinutes(n),
                IntervalSeconds = 60,
                ListeningSeconds = 60,
                Detections = n % 10 == 5 ? 1 : 0,
                OutboxEvictedCount = device == "legacy" && n % 3 == 1 && n > 1 ? 1 : 0,
                ModelVersion = Model,
                RssBytes = 40_000_000,
                UptimeSeconds = n * 60,
                Totals = device == "legacy" ? null : new HeartbeatTotals
                {
                    Epoch = restarted ? "restarted-epoch" : epoch,
                    ListeningSeconds = (restarted ? n - 30 : n) * 60.0,
                    Detections = detections,
                    // The outbox's own counters, as the agent's writer reads them when it builds a heartbeat.
                    Outbox = outbox.GetStats().ToWireTotals(),
                },
            };
            bool store = !(lost && device is "dropped" or "legacy");
            yield return (OutboxMessageClass.Heartbeat, heartbeatTopic, WireJson.Serialize(h), store);
        }
    }
}
