using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Uplink;

/// <summary>Interop with a real Mosquitto 2 process: delivery across a broker restart, passwords and ACLs.</summary>
public class MqttUplink_Mosquitto_Tests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120); // liveness only

    [Fact]
    public async Task Delivers_every_message_in_order_when_mosquitto_is_killed_mid_stream_and_restarted()
    {
        const int n = 300;
        await using MosquittoBroker broker = MosquittoBroker.Create("allow_anonymous true");
        await broker.StartAsync();
        var subscriber = new RecordingSubscriber(broker.Port);
        await subscriber.ConnectAsync(Timeout);

        var outbox = new InMemoryOutboxQueue();
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Detection);
        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(broker.Port), outbox);
        uplink.Start();
        // The second half is held until the broker is down, so messages certainly pile up during the outage (paced
        // on its own the producer could finish, and the uplink deliver everything, before a slow kill on a loaded machine).
        var brokerDown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
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
                await Task.Delay(3);
            }
        });

        await UplinkTestKit.WaitUntilAsync(() => subscriber.DistinctSequenceCount >= 60, Timeout,
            () => $"{subscriber.DistinctSequenceCount} before the kill; uplink: {uplink.LastError}\n{broker.Log}");
        await broker.TerminateAsync();
        brokerDown.SetResult();
        await producer;
        await UplinkTestKit.WaitUntilAsync(() => uplink.State != UplinkState.Connected, Timeout, () => "the uplink to notice the broker is gone");
        int waiting = outbox.Count;
        Assert.True(waiting > 0, "messages must pile up in the outbox while the broker is down");

        await broker.StartAsync();
        await subscriber.ReconnectAsync(Timeout); // persistent session: the restarted broker kept it on disk
        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0 && subscriber.DistinctSequenceCount == n, Timeout,
            () => $"outbox {outbox.Count}, received {subscriber.DistinctSequenceCount}/{n}, uplink {uplink.State}: {uplink.LastError}");

        List<long> received = subscriber.Sequences;
        int duplicates = UplinkTestKit.AssertCompleteInOrder(received, n);
        int dupFlagged = subscriber.Messages.Count(m => m.Sequence is not null && m.Dup);
        output.WriteLine($"{waiting} waited in the outbox during the outage; subscriber got {received.Count} publishes for {n} messages: "
            + $"{duplicates} duplicate(s) before de-dup, {dupFlagged} with the DUP flag; uplink {uplink.Stats}");
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), outbox.Acknowledged);
        Assert.True(uplink.Stats.Connects >= 2);
        Assert.All(subscriber.Messages.Where(m => m.Sequence is not null), m => Assert.Equal(UplinkTestKit.ConfigHash, m.ConfigHash));
        await subscriber.DisposeAsync();
    }

    private static MosquittoBroker PasswordBroker() => MosquittoBroker.Create(
        "allow_anonymous false\npassword_file {dir}/passwd\nacl_file {dir}/acl",
        prepareDirectory: dir =>
        {
            MosquittoBroker.AddPassword(Path.Combine(dir, "passwd"), "dev-001", "device-secret");
            MosquittoBroker.AddPassword(Path.Combine(dir, "passwd"), "gateway", "gateway-secret");
            // Each device may only touch its own subtree (user name = device id); the gateway reads everything.
            File.WriteAllText(Path.Combine(dir, "acl"), "user gateway\ntopic read edgekws/v1/#\n\npattern readwrite edgekws/v1/%u/#\n");
        });

    [Fact]
    public async Task Connects_with_the_right_password_and_is_refused_with_a_wrong_one()
    {
        await using MosquittoBroker broker = PasswordBroker();
        await broker.StartAsync();
        await using var gateway = new RecordingSubscriber(broker.Port, username: "gateway", password: "gateway-secret");
        await gateway.ConnectAsync(Timeout);
        string topic = Topics.Uplink(UplinkTestKit.DeviceId, MessageKind.Heartbeat);

        var wrongOutbox = new InMemoryOutboxQueue();
        wrongOutbox.Enqueue(topic, [1], null);
        MqttUplinkOptions fast = UplinkTestKit.FastOptions(broker.Port);
        await using (var wrong = new MqttUplink(new MqttUplinkOptions
        {
            DeviceId = fast.DeviceId,
            Port = fast.Port,
            InitialBackoff = fast.InitialBackoff,
            MaxBackoff = fast.MaxBackoff,
            Username = "dev-001",
            Password = "not-the-password",
        }, wrongOutbox))
        {
            wrong.Start();
            await UplinkTestKit.WaitUntilAsync(() => wrong.Stats.ConnectAttempts >= 3, Timeout, () => $"attempts: {wrong.LastError}");
            output.WriteLine("wrong password: " + wrong.LastError);
            Assert.Equal(0, wrong.Stats.Connects);
            Assert.Matches("BadUserNameOrPassword|NotAuthorized", wrong.LastError);
            Assert.Equal(1, wrongOutbox.Count);
        }

        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(topic, [2], null);
        await using var right = new MqttUplink(new MqttUplinkOptions
        {
            DeviceId = fast.DeviceId,
            Port = fast.Port,
            InitialBackoff = fast.InitialBackoff,
            MaxBackoff = fast.MaxBackoff,
            Username = "dev-001",
            Password = "device-secret",
        }, outbox);
        right.Start();
        await UplinkTestKit.WaitUntilAsync(() => gateway.DistinctSequenceCount == 1, Timeout, () => $"delivery: {right.LastError}\n{broker.Log}");
        Assert.Equal([1L], outbox.Acknowledged);
        Assert.Equal([2], Assert.Single(gateway.Messages, m => m.Sequence == 1).Payload);
    }

    [Fact]
    public async Task Dead_letters_messages_the_broker_acl_refuses_for_a_device_outside_its_subtree()
    {
        await using MosquittoBroker broker = PasswordBroker();
        await broker.StartAsync();
        await using var gateway = new RecordingSubscriber(broker.Port, username: "gateway", password: "gateway-secret");
        await gateway.ConnectAsync(Timeout);

        // A misconfigured device: it authenticates as dev-001 but calls itself dev-002, so its topics are not its own.
        var outbox = new InMemoryOutboxQueue();
        outbox.Enqueue(Topics.Uplink("dev-002", MessageKind.Detection), [1], UplinkTestKit.ConfigHash);
        MqttUplinkOptions fast = UplinkTestKit.FastOptions(broker.Port, deviceId: "dev-002");
        await using var uplink = new MqttUplink(new MqttUplinkOptions
        {
            DeviceId = fast.DeviceId,
            Port = fast.Port,
            InitialBackoff = fast.InitialBackoff,
            MaxBackoff = fast.MaxBackoff,
            Username = "dev-001",
            Password = "device-secret",
        }, outbox);
        uplink.Start();
        await UplinkTestKit.WaitUntilAsync(() => outbox.Count == 0, Timeout, () => $"outbox {outbox.Count}: {uplink.LastError}\n{broker.Log}");

        (long seq, string reason) = Assert.Single(outbox.DeadLettered);
        output.WriteLine("ACL refusal: " + reason);
        Assert.Equal(1, seq);
        Assert.Contains("NotAuthorized (0x87)", reason, StringComparison.Ordinal);
        Assert.Empty(outbox.Acknowledged);
        await Task.Delay(300);
        Assert.Empty(gateway.Sequences);
    }
}
