using System.Diagnostics;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Uplink;

public class MqttUplink_EmbeddedBroker_Tests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120); // liveness only

    [Fact]
    public async Task Delivers_every_message_in_sequence_order_with_its_user_properties()
    {
        const int n = 200;
        int port = UplinkTestKit.FreePort();
        await using EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        await using var subscriber = new RecordingSubscriber(port);
        await subscriber.ConnectAsync(Timeout);

        var outbox = new InMemoryOutboxQueue();
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Detection);
        for (int i = 1; i <= n; i++)
        {
            outbox.Enqueue(topic, UplinkTestKit.DetectionPayload(i), UplinkTestKit.ConfigHash);
        }

        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(port), outbox);
        var sw = Stopwatch.StartNew();
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => subscriber.DistinctSequenceCount == n && outbox.Count == 0, Timeout,
            () => $"{subscriber.DistinctSequenceCount}/{n} received, outbox {outbox.Count}, uplink {uplink.State}: {uplink.LastError}");
        sw.Stop();
        output.WriteLine($"{n} QoS 1 messages one at a time over loopback in {sw.ElapsedMilliseconds} ms ({n / sw.Elapsed.TotalSeconds:0} msg/s, includes connect)");

        List<ReceivedMessage> data = subscriber.Messages.Where(m => m.Sequence is not null).ToList();
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), data.Select(m => m.Sequence!.Value));
        for (int i = 0; i < n; i++)
        {
            ReceivedMessage m = data[i];
            Assert.Equal(topic, m.Topic);
            Assert.Equal(UplinkTestKit.ConfigHash, m.ConfigHash);
            Assert.Equal("1", m.Schema);
            Assert.Equal("detection", m.Kind);
            Assert.Equal(ContentTypes.Json, m.ContentType);
            Assert.Equal(UplinkTestKit.DetectionPayload(i + 1), m.Payload);
            Assert.True(WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.DetectionReport, out DetectionReport? d, out string reason), reason);
            Assert.Equal((i + 1) * 1000L, d.StreamOffsetMs);
        }
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), outbox.Acknowledged);
        Assert.Equal(new MqttUplinkStats(1, 1, n, 0, n, 0, 0), uplink.Stats);

        ReceivedMessage status = Assert.Single(subscriber.Messages, m => m.Kind == "status");
        Assert.True(WireJson.TryDeserialize(status.Payload, WireJsonContext.Default.DeviceStatus, out DeviceStatus? online, out _));
        Assert.Equal(DeviceState.Online, online.State);
    }

    [Fact]
    public async Task Delivers_every_message_in_order_after_the_broker_is_down_for_a_while()
    {
        const int n = 300;
        int port = UplinkTestKit.FreePort();
        EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        var subscriber = new RecordingSubscriber(port);
        await subscriber.ConnectAsync(Timeout);

        var outbox = new InMemoryOutboxQueue();
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Detection);
        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(port), outbox);
        uplink.Start();

        // The producer is the detection side: it only touches the outbox and never waits for the network. It holds
        // its second half until the broker is down, so that half is certainly produced during the outage: paced
        // on its own it could finish before a slow broker stop on a loaded machine, leaving nothing to wait out.
        var brokerDown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int enqueuedWhileDown = 0;
        Task producer = Task.Run(async () =>
        {
            for (int i = 1; i <= n; i++)
            {
                if (i == (n / 2) + 1)
                {
                    await brokerDown.Task;
                }
                outbox.Enqueue(topic, UplinkTestKit.DetectionPayload(i), UplinkTestKit.ConfigHash);
                uplink.NotifyEnqueued();
                if (brokerDown.Task.IsCompleted)
                {
                    Interlocked.Increment(ref enqueuedWhileDown);
                }
                await Task.Delay(3);
            }
        });

        await UplinkTestKit.WaitUntilAsync(() => broker.Accepted.Count >= 60, Timeout, () => $"{broker.Accepted.Count} accepted before the outage");
        List<long> acceptedByFirst = [.. broker.Accepted];
        await broker.DisposeAsync(); // mid-stream
        brokerDown.SetResult();
        await subscriber.DisposeAsync();
        await producer; // the producer finishes while the broker is down
        await UplinkTestKit.WaitUntilAsync(() => uplink.State != UplinkState.Connected, Timeout, () => "the uplink to notice the broker is gone");
        Assert.True(enqueuedWhileDown >= n / 2, "the second half must be enqueued during the outage");
        int leftInOutbox = outbox.Count;
        output.WriteLine($"outage: {enqueuedWhileDown} enqueued while down, {leftInOutbox} waiting in the outbox; uplink: {uplink.LastError}");
        Assert.True(leftInOutbox > 0);

        // Restart: a fresh broker (in-memory sessions gone, like a crash). The gateway subscribes first.
        EmbeddedBroker restarted = await EmbeddedBroker.StartAsync(port, admitDevice: false);
        await using var subscriber2 = new RecordingSubscriber(port);
        await subscriber2.ConnectAsync(Timeout);
        restarted.AdmitDevice = true;

        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0, Timeout, () => $"outbox {outbox.Count}, uplink {uplink.State}: {uplink.LastError}");
        List<long> acceptedBySecond = [.. restarted.Accepted];
        List<long> all = [.. acceptedByFirst, .. broker.Accepted.Skip(acceptedByFirst.Count), .. acceptedBySecond];
        int duplicates = UplinkTestKit.AssertCompleteInOrder(all, n);

        // Nothing the broker accepted after the restart is lost on its way to the subscriber either.
        await UplinkTestKit.WaitUntilAsync(() => subscriber2.DistinctSequenceCount == acceptedBySecond.Distinct().Count(), Timeout,
            () => $"subscriber got {subscriber2.DistinctSequenceCount} of {acceptedBySecond.Distinct().Count()}");
        Assert.Equal(acceptedBySecond.Distinct(), subscriber2.Sequences.Distinct());

        MqttUplinkStats stats = uplink.Stats;
        output.WriteLine($"broker accepted {all.Count} publishes for {n} messages: {duplicates} duplicate(s) before de-dup "
            + $"(sequences {string.Join(",", all.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key))}); uplink {stats}");
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), outbox.Acknowledged);
        Assert.True(stats.Connects >= 2);
        Assert.Equal(stats.Resent, stats.Published - n);
        await restarted.DisposeAsync();
    }

    [Fact]
    public async Task Restarts_the_backoff_schedule_after_a_successful_connection()
    {
        int port = UplinkTestKit.FreePort();
        EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        var delays = new List<TimeSpan>();
        Task RecordingDelay(TimeSpan d, CancellationToken ct)
        {
            lock (delays)
            {
                delays.Add(d);
            }
            return Task.Delay(20, ct);
        }
        MqttUplinkOptions options = new()
        {
            DeviceId = UplinkTestKit.DeviceId,
            Port = port,
            InitialBackoff = TimeSpan.FromSeconds(1),
            MaxBackoff = TimeSpan.FromSeconds(60),
            BackoffJitterFraction = 0,
            OperationTimeout = TimeSpan.FromSeconds(5),
        };
        await using var uplink = new MqttUplink(options, new InMemoryOutboxQueue(), delay: RecordingDelay);
        uplink.Start();
        int Count()
        {
            lock (delays)
            {
                return delays.Count;
            }
        }

        for (int round = 0; round < 2; round++)
        {
            await UplinkTestKit.WaitUntilAsync(() => uplink.State == UplinkState.Connected, Timeout, () => $"connect: {uplink.LastError}");
            int before = Count();
            await broker.DisposeAsync();
            await UplinkTestKit.WaitUntilAsync(() => Count() >= before + 4, Timeout, () => $"{Count() - before} delays");
            lock (delays)
            {
                Assert.Equal([1, 2, 4, 8], delays.Skip(before).Take(4).Select(d => d.TotalSeconds));
            }
            broker = await EmbeddedBroker.StartAsync(port);
        }
        await uplink.StopAsync();
        await broker.DisposeAsync();
    }

    [Fact]
    public async Task Resends_a_message_whose_PUBACK_was_lost_and_continues_in_order()
    {
        const int n = 20;
        int port = UplinkTestKit.FreePort();
        await using EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        await using var subscriber = new RecordingSubscriber(port);
        await subscriber.ConnectAsync(Timeout);
        int dropped = 0;
        broker.OnPublish = (seq, e) =>
        {
            // The broker takes sequence 7 and forwards it, then the connection dies before the PUBACK.
            if (seq == 7 && Interlocked.Exchange(ref dropped, 1) == 0)
            {
                e.CloseConnection = true;
            }
            return true;
        };
        var outbox = new InMemoryOutboxQueue();
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Heartbeat);
        for (int i = 1; i <= n; i++)
        {
            outbox.Enqueue(topic, [(byte)i], null);
        }
        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(port), outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0 && subscriber.DistinctSequenceCount == n, Timeout,
            () => $"outbox {outbox.Count}, received {subscriber.DistinctSequenceCount}, uplink {uplink.State}: {uplink.LastError}");

        List<long> received = subscriber.Sequences;
        output.WriteLine($"subscriber saw: {string.Join(",", received)}; DUP flags set: {subscriber.Messages.Count(m => m.Dup)}; uplink {uplink.Stats}");
        int duplicates = UplinkTestKit.AssertCompleteInOrder(received, n);
        Assert.Equal(1, uplink.Stats.Resent);
        Assert.Equal(2, uplink.Stats.Connects);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), outbox.Acknowledged);
        Assert.Equal(2, received.Count(s => s == 7)); // the one duplicate, removed by de-dup at the receiver
        Assert.Equal(1, duplicates);
        Assert.Null(subscriber.Messages.FirstOrDefault(m => m.Sequence == 7 && m.Payload[0] != 7));
        Assert.Null(subscriber.Messages.FirstOrDefault(m => m.Sequence == null && m.Kind != "status"));
    }

    [Fact]
    public async Task Retries_a_transient_refusal_then_dead_letters_it_and_moves_on()
    {
        int port = UplinkTestKit.FreePort();
        await using EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        int refusals = 0;
        broker.OnPublish = (seq, e) =>
        {
            if (seq == 2)
            {
                Interlocked.Increment(ref refusals);
                e.ProcessPublish = false;
                e.Response.ReasonCode = MQTTnet.Protocol.MqttPubAckReasonCode.QuotaExceeded;
                e.Response.ReasonString = "test quota";
                return false;
            }
            return true;
        };
        var outbox = new InMemoryOutboxQueue();
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Heartbeat);
        for (int i = 1; i <= 3; i++)
        {
            outbox.Enqueue(topic, [(byte)i], null);
        }
        MqttUplinkOptions options = UplinkTestKit.FastOptions(port);
        await using var uplink = new MqttUplink(options, outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0, Timeout, () => $"outbox {outbox.Count}: {uplink.LastError}");

        Assert.Equal(options.MaxRefusalsPerMessage, refusals);
        Assert.Equal([1L, 3L], outbox.Acknowledged);
        (long seq, string reason) = Assert.Single(outbox.DeadLettered);
        Assert.Equal(2, seq);
        Assert.Contains("QuotaExceeded (0x97) test quota; gave up after 5 refusals", reason, StringComparison.Ordinal);
        Assert.Equal([1L, 3L], broker.Accepted);
        Assert.Equal(1, uplink.Stats.Connects); // a refusal is not a connection problem
    }

    [Fact]
    public async Task Dead_letters_an_item_whose_topic_belongs_to_another_device_without_sending_it()
    {
        int port = UplinkTestKit.FreePort();
        await using EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(Topics.Uplink("dev-999", MessageKind.Detection), [1], null);
        outbox.Enqueue("not/our/scheme", [2], null);
        outbox.Enqueue(Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Detection), [3], null);
        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(port), outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0, Timeout, () => $"outbox {outbox.Count}: {uplink.LastError}");

        Assert.Equal([3L], outbox.Acknowledged);
        Assert.Equal([3L], broker.Accepted);
        Assert.Collection(outbox.DeadLettered,
            d => Assert.Contains("belongs to device 'dev-999', not 'dev-001'", d.Reason, StringComparison.Ordinal),
            d => Assert.Contains("is not under 'edgekws/v1/'", d.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dead_letters_an_item_whose_config_hash_is_not_the_64_hex_sha256_without_sending_it()
    {
        int port = UplinkTestKit.FreePort();
        await using EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        var outbox = new InMemoryOutboxQueue();
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Detection);
        outbox.Enqueue(topic, [1], "0123456789abcdef"); // the old truncated 64-bit form
        outbox.Enqueue(topic, [2], UplinkTestKit.ConfigHash.ToUpperInvariant());
        outbox.Enqueue(topic, [3], UplinkTestKit.ConfigHash);
        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(port), outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0, Timeout, () => $"outbox {outbox.Count}: {uplink.LastError}");

        Assert.Equal([3L], outbox.Acknowledged);
        Assert.Equal([3L], broker.Accepted);
        Assert.Collection(outbox.DeadLettered,
            d => Assert.Contains("user property ekws-cfg must be the SHA-256 as 64 lowercase hex digits, got 16 characters", d.Reason, StringComparison.Ordinal),
            d => Assert.Contains("user property ekws-cfg must be 64 lowercase hex digits, got '", d.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Publishes_the_offline_status_on_stop_and_the_broker_sends_the_last_will_when_the_link_dies()
    {
        int port = UplinkTestKit.FreePort();
        await using EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        await using var subscriber = new RecordingSubscriber(port);
        await subscriber.ConnectAsync(Timeout);
        string statusTopic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Status);
        DeviceStatus[] Statuses() => subscriber.Messages.Where(m => m.Topic == statusTopic)
            .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.DeviceStatus, out DeviceStatus? s, out _) ? s : null)
            .OfType<DeviceStatus>().ToArray();

        var uplink = new MqttUplink(UplinkTestKit.FastOptions(port), new InMemoryOutboxQueue());
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => Statuses().Length == 1, Timeout, () => $"online status: {uplink.LastError}");
        await uplink.DisposeAsync();
        await UplinkTestKit.WaitUntilAsync(() => Statuses().Length == 2, Timeout, () => "offline status");
        Assert.Equal([DeviceState.Online, DeviceState.Offline], Statuses().Select(s => s.State));
        Assert.Equal("shutdown", Statuses()[1].Reason);

        // A dead link: the broker drops the device and publishes its Last Will.
        var uplink2 = new MqttUplink(UplinkTestKit.FastOptions(port), new InMemoryOutboxQueue());
        uplink2.Start();
        await UplinkTestKit.WaitUntilAsync(() => Statuses().Length == 3, Timeout, () => "second online status");
        await broker.DisconnectDeviceAsync(UplinkTestKit.DeviceId);
        await UplinkTestKit.WaitUntilAsync(() => Statuses().Length >= 4, Timeout, () => "last will");
        DeviceStatus will = Statuses()[3];
        Assert.Equal(DeviceState.Offline, will.State);
        Assert.Equal("connection lost", will.Reason);
        await uplink2.DisposeAsync();
    }
}
