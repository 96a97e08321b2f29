using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using MQTTnet;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Ingest;

/// <summary>
/// Thousands of generated malformed publishes over real MQTT connections: the gateway never crashes, refuses every one
/// with a non-success PUBACK, and quarantines every one with a reason (quarantined == sent), then still stores valid data.
/// </summary>
public sealed class IngestFuzz_Tests(ITestOutputHelper output)
{
    private const int Devices = 8;
    private const int MessagesPerDevice = 1_250; // 10,000 in all
    private const int InFlightPerDevice = 8;

    [Fact]
    public async Task Quarantines_every_one_of_10000_malformed_messages_and_keeps_running()
    {
        string[] devices = Enumerable.Range(0, Devices).Select(i => $"fuzz-{i}").ToArray();
        await using InProcessGateway gateway = await InProcessGateway.StartAsync(devices);
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");

        var sentByCategory = new ConcurrentDictionary<string, int>();
        var accepted = new ConcurrentQueue<string>();
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(devices.Select((device, d) => Task.Run(async () =>
        {
            var corpus = new FuzzCorpus(seed + d, device, gateway.Options.Ingest.MaxMessageBytes);
            await using RawPublisher pub = await RawPublisher.ConnectAsync(gateway.Port, device);
            using var window = new SemaphoreSlim(InFlightPerDevice);
            var pending = new List<Task>();
            for (int i = 0; i < MessagesPerDevice; i++)
            {
                FuzzMessage m = corpus.Next(i);
                sentByCategory.AddOrUpdate(m.Category, 1, (_, n) => n + 1);
                await window.WaitAsync();
                pending.Add(Task.Run(async () =>
                {
                    try
                    {
                        MqttClientPublishReasonCode code = await pub.PublishAsync(m.Topic, m.Payload, m.Properties, m.ContentType);
                        if ((int)code < 0x80)
                        {
                            accepted.Enqueue($"{m.Category} on {m.Topic}: {code}");
                        }
                    }
                    finally
                    {
                        window.Release();
                    }
                }));
            }
            await Task.WhenAll(pending);
        })));
        sw.Stop();

        int sent = sentByCategory.Values.Sum();
        Assert.Equal(Devices * MessagesPerDevice, sent);
        Assert.Empty(accepted);
        StoreCounts counts = gateway.Store.Count();
        Assert.Equal(sent, counts.Quarantined);
        Assert.Equal(0, counts.Messages);
        GatewayMetricsSnapshot metrics = gateway.Service.Metrics.Snapshot();
        Assert.Equal(sent, metrics.Quarantined);
        Assert.Equal(0, metrics.Failed);

        var byRejection = new Dictionary<RejectionKind, int>();
        long lastId = 0;
        int rows = 0;
        while (true)
        {
            IReadOnlyList<QuarantineRecord> page = gateway.Store.ReadQuarantine(lastId, 2_000);
            if (page.Count == 0)
            {
                break;
            }
            foreach (QuarantineRecord q in page)
            {
                Assert.False(string.IsNullOrWhiteSpace(q.Reason));
                Assert.NotEqual(RejectionKind.None, q.Rejection);
                Assert.True(q.Payload.LongLength <= q.PayloadBytes);
                byRejection[q.Rejection] = byRejection.GetValueOrDefault(q.Rejection) + 1;
                rows++;
            }
            lastId = page[^1].Id;
        }
        Assert.Equal(sent, rows);
        // Two categories publish outside the device's subtree (foreign device, outside the scheme), two inside it on a bad topic.
        int foreign = sentByCategory["topic-foreign-device"] + sentByCategory["topic-outside-scheme"];
        Assert.Equal(foreign, byRejection[RejectionKind.ForeignTopic]);
        Assert.Equal(foreign, metrics.ForeignTopicRefused);
        Assert.Equal(sentByCategory["topic-unknown-kind"] + sentByCategory["topic-extra-level"], byRejection[RejectionKind.InvalidTopic]);
        string[] propertyCategories = ["property-schema-version", "property-hash-bad-form", "property-hash-missing", "sequence-missing",
            "sequence-malformed", "sequence-duplicated-property", "kind-property-mismatch"];
        Assert.Equal(propertyCategories.Sum(c => sentByCategory[c]), byRejection[RejectionKind.InvalidProperties]);
        Assert.Equal(sent - foreign - byRejection[RejectionKind.InvalidTopic] - byRejection[RejectionKind.InvalidProperties],
            byRejection[RejectionKind.InvalidPayload]);

        output.WriteLine($"{sent} malformed messages from {Devices} devices ({InFlightPerDevice} in flight each) quarantined in {sw.Elapsed.TotalSeconds:0.00} s "
            + $"= {sent / sw.Elapsed.TotalSeconds:0} msg/s, {metrics.Batches} transactions (mean batch {(double)sent / metrics.Batches:0.0})");
        foreach ((RejectionKind kind, int n) in byRejection.OrderBy(p => p.Key))
        {
            output.WriteLine($"  {kind}: {n}");
        }

        // Still alive and storing.
        await using RawPublisher after = await RawPublisher.ConnectAsync(gateway.Port, devices[0]);
        Assert.Equal(MqttClientPublishReasonCode.Success, await after.PublishAsync(Topics.Uplink(devices[0], MessageKind.Detection),
            WireJson.Serialize(Wire.Detection(devices[0], 1)), Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash), ContentTypes.Json));
        Assert.Equal(1, gateway.Store.Count().Detections);
    }
}
