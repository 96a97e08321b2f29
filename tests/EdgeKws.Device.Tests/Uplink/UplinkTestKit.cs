using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Contracts;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace EdgeKws.Device.Tests.Uplink;

/// <summary>Ports, waiting, and message fixtures shared by the uplink tests.</summary>
internal static class UplinkTestKit
{
    public const string DeviceId = "dev-001";

    /// <summary>A stand-in feature configuration hash: the SHA-256 of a test string, in the wire text form.</summary>
    public static readonly string ConfigHash = Convert.ToHexStringLower(SHA256.HashData("edgekws uplink test config"u8));

    public static int FreePort() => TestWait.FreeLoopbackPort();

    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe) =>
        TestWait.UntilAsync(condition, timeout, describe);

    /// <summary>A real, valid detection payload whose stream offset encodes <paramref name="n"/>.</summary>
    public static byte[] DetectionPayload(int n) => WireJson.Serialize(new DetectionReport
    {
        DeviceId = DeviceId,
        DeviceTimeUtc = new DateTimeOffset(2026, 11, 20, 12, 0, 0, TimeSpan.Zero).AddSeconds(n),
        StreamOffsetMs = n * 1000L,
        Score = 0.9f,
        ModelVersion = "kws-1.0.0",
        FeatureConfigHash = ConfigHash,
    });

    /// <summary>
    /// Options for a fast test loop: short backoff so restarts do not make tests slow. Keep-alive and the
    /// CONNACK/PUBACK timeout only guard against a silently dead link, which no test relies on (a stopped broker
    /// closes its sockets): they are generous so a loaded CI machine (a PUBACK late by seconds, a keep-alive
    /// ping late past the broker's 1.5x grace) never costs a reconnect that the exact Connects/Resent figures
    /// the tests assert would count.
    /// </summary>
    public static MqttUplinkOptions FastOptions(int port, string deviceId = DeviceId) => new()
    {
        DeviceId = deviceId,
        Host = "127.0.0.1",
        Port = port,
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
        KeepAlive = TimeSpan.FromSeconds(60),
        OperationTimeout = TimeSpan.FromSeconds(60),
        IdlePollInterval = TimeSpan.FromMilliseconds(100),
    };

    /// <summary>
    /// Asserts the receiver saw every sequence 1..n, first occurrences in increasing order, and returns the
    /// number of duplicates it saw before de-duplication.
    /// </summary>
    public static int AssertCompleteInOrder(IReadOnlyList<long> received, int n)
    {
        var seen = new HashSet<long>();
        var firstOccurrences = new List<long>();
        foreach (long s in received)
        {
            if (seen.Add(s))
            {
                firstOccurrences.Add(s);
            }
        }
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), firstOccurrences);
        return received.Count - firstOccurrences.Count;
    }
}

/// <summary>One message as a subscriber received it.</summary>
internal sealed record ReceivedMessage(string Topic, long? Sequence, string? ConfigHash, string? Schema, string? Kind, string? ContentType,
    bool Dup, bool Retain, byte[] Payload);

/// <summary>A gateway-like MQTT 5 subscriber with a persistent session that records what arrives.</summary>
internal sealed class RecordingSubscriber : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions _options;
    private readonly string _filter;

    public RecordingSubscriber(int port, string clientId = "gateway-test", string? username = null, string? password = null,
        string filter = Topics.AllUplinkFilter)
    {
        _filter = filter;
        MqttClientOptionsBuilder b = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(3600)
            .WithTimeout(TimeSpan.FromSeconds(60));
        if (username is not null)
        {
            b.WithCredentials(username, password);
        }
        _options = b.Build();
        _client.ApplicationMessageReceivedAsync += e =>
        {
            MqttApplicationMessage m = e.ApplicationMessage;
            string? Prop(string name) => m.UserProperties?.FirstOrDefault(p => p.Name == name)?.ReadValueAsString();
            string? seq = Prop(UserProperties.Sequence);
            Messages.Enqueue(new ReceivedMessage(m.Topic, seq is null ? null : long.Parse(seq, CultureInfo.InvariantCulture),
                Prop(UserProperties.FeatureConfigHash), Prop(UserProperties.SchemaVersion), Prop(UserProperties.MessageKind),
                m.ContentType, m.Dup, m.Retain, System.Buffers.BuffersExtensions.ToArray(m.Payload)));
            return Task.CompletedTask;
        };
    }

    public ConcurrentQueue<ReceivedMessage> Messages { get; } = new();

    /// <summary>Sequence numbers of the outbox messages received, in arrival order, duplicates included.</summary>
    public List<long> Sequences => Messages.Where(m => m.Sequence is not null).Select(m => m.Sequence!.Value).ToList();

    public int DistinctSequenceCount => Sequences.Distinct().Count();

    /// <summary>Connects (retrying until the broker is up) and subscribes with QoS 1.</summary>
    public async Task ConnectAsync(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await _client.ConnectAsync(_options);
                break;
            }
            catch (Exception) when (sw.Elapsed < timeout)
            {
                await Task.Delay(50);
            }
        }
        MqttClientSubscribeResult sub = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(_filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.All(sub.Items, i => Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, i.ResultCode));
    }

    public async Task ReconnectAsync(TimeSpan timeout)
    {
        await UplinkTestKit.WaitUntilAsync(() => !_client.IsConnected, timeout, () => "subscriber to notice the broker went away");
        await ConnectAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync();
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // The broker was stopped a moment ago and the client has not noticed yet (a loaded machine): the
                // DISCONNECT meets a closed socket ("Broken pipe"). There is nothing left to disconnect from.
            }
        }
        _client.Dispose();
    }
}
