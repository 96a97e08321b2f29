using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using MQTTnet;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Broker;

/// <summary>
/// A maximum MQTT packet size at the embedded broker. The gateway runs as its own process (so its memory is its own);
/// an authenticated device sends a PUBLISH whose fixed header announces 250 MB and then streams zeros, as a broken or
/// hostile device would. The broker refuses it on the header, drops the connection and keeps serving another device,
/// and its peak resident memory stays within 64 MiB of what it was. The same drill against a gateway whose limit is
/// raised to MQTT's maximum shows what the limit prevents.
/// </summary>
public sealed class MaxPacketSize_Tests(ITestOutputHelper output) : IDisposable
{
    private const long Announced = 250_000_000;
    private const long PeakGrowthBound = 64L << 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_250_MB_publish_is_refused_before_buffering_and_the_gateway_keeps_serving_other_devices()
    {
        (long before, long after, long sent, bool dropped, GatewayChild child) = await DrillAsync("limited");
        using (child)
        {
            output.WriteLine($"limit {new GatewayOptions().EffectiveMaxPacketBytes} B: peak RSS {before >> 20} MiB before, {after >> 20} MiB after; " +
                $"the device got {sent >> 20} MiB of the 250 MB out before the broker dropped the connection");
            Assert.True(dropped, "the broker kept the connection of the 250 MB publish open");
            Assert.True(sent < Announced / 2, $"{sent} bytes were written before the connection dropped");
            Assert.True(after - before < PeakGrowthBound, $"peak RSS grew by {(after - before) >> 20} MiB (bound {PeakGrowthBound >> 20} MiB)");
            Assert.Contains(child.Lines, l => l.Contains("refused an MQTT packet of 250000000 bytes", StringComparison.Ordinal));

            // Another device is still served: connect, publish, PUBACK success (stored after the commit).
            await using (RawPublisher other = await RawPublisher.ConnectAsync(_port, "dev-ok"))
            {
                MqttClientPublishReasonCode code = await other.PublishAsync(Topics.Uplink("dev-ok", MessageKind.Detection),
                    WireJson.Serialize(Wire.Detection("dev-ok", 1)), Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash));
                Assert.Equal(MqttClientPublishReasonCode.Success, code);
            }
            // And the device whose connection was dropped may come back with normal messages.
            await using (RawPublisher again = await RawPublisher.ConnectAsync(_port, "dev-big"))
            {
                Assert.Equal(MqttClientPublishReasonCode.Success, await again.PublishAsync(Topics.Uplink("dev-big", MessageKind.Detection),
                    WireJson.Serialize(Wire.Detection("dev-big", 1)), Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash)));
            }
            string stopped = await child.StopGracefullyAsync();
            Assert.Equal(3, GatewayChild.Counter(stopped, "Stored")); // the warm-up, dev-ok and dev-big
            Assert.Equal(1, GatewayChild.Counter(stopped, "PacketsTooLarge"));
        }
    }

    [Fact]
    public async Task Without_the_limit_the_same_publish_is_buffered_whole()
    {
        // Contrast: the limit raised to MQTT's largest remaining length, as MQTTnet is on its own.
        (long before, long after, long sent, _, GatewayChild child) = await DrillAsync("unlimited", "--Gateway:Broker:MaxPacketBytes=268435455");
        using (child)
        {
            output.WriteLine($"no effective limit: peak RSS {before >> 20} MiB before, {after >> 20} MiB after {sent >> 20} MiB were sent");
            Assert.True(after - before > 200L << 20, $"peak RSS grew by only {(after - before) >> 20} MiB: the contrast case no longer shows the problem");
        }
    }

    private int _port;

    private async Task<(long PeakBefore, long PeakAfter, long Sent, bool Dropped, GatewayChild Child)> DrillAsync(string name, params string[] args)
    {
        string db = _dir.File(name + ".db");
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = db }))
        {
            store.SetDeviceCredential("dev-big", PasswordHash.Create(InProcessGateway.Password, iterations: 1_000));
            store.SetDeviceCredential("dev-ok", PasswordHash.Create(InProcessGateway.Password, iterations: 1_000));
        }
        _port = TestWait.FreeLoopbackPort();
        GatewayChild child = await GatewayChild.StartAsync(_dir.Path,
            ["--Gateway:Store:DatabasePath=" + db, "--Gateway:Broker:Port=" + _port.ToString(CultureInfo.InvariantCulture), .. args]);
        try
        {
            // Warm the gateway up with one ordinary publish, so the baseline includes a served connection.
            await using (RawPublisher warm = await RawPublisher.ConnectAsync(_port, "dev-ok"))
            {
                await warm.PublishAsync(Topics.Uplink("dev-ok", MessageKind.Detection), WireJson.Serialize(Wire.Detection("dev-ok", 0)),
                    Wire.Properties(100, MessageKind.Detection, Wire.ConfigHash));
            }
            long before = child.Memory().PeakRssBytes;
            (long sent, bool dropped) = await SendHugePublishAsync(_port, "dev-big");
            // Let the gateway finish whatever it does with what arrived (buffering, validating, quarantining) before measuring.
            await Task.Delay(TimeSpan.FromSeconds(2));
            return (before, child.Memory().PeakRssBytes, sent, dropped, child);
        }
        catch
        {
            child.Dispose();
            throw;
        }
    }

    /// <summary>A raw MQTT 5 client: CONNECT as <paramref name="device"/>, then a QoS 1 PUBLISH announcing 250 MB, and
    /// zeros in 64 KiB writes until the broker drops the connection or all 250 MB are out. No 250 MB buffer in the test.</summary>
    private static async Task<(long Sent, bool Dropped)> SendHugePublishAsync(int port, string device)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(Connect(device, InProcessGateway.Password));
        var connack = new byte[64];
        int got = await stream.ReadAsync(connack);
        Assert.True(got >= 4 && connack[0] == 0x20 && connack[3] == 0x00, $"CONNACK {Convert.ToHexString(connack, 0, got)}");

        byte[] topic = Encoding.UTF8.GetBytes(Topics.Uplink(device, MessageKind.ClipAudio));
        var header = new List<byte> { 0x32 }; // PUBLISH, QoS 1
        header.AddRange(VariableByteInteger(Announced));
        header.AddRange([(byte)(topic.Length >> 8), (byte)topic.Length]);
        header.AddRange(topic);
        header.AddRange([0x00, 0x01, 0x00]); // packet id 1, no properties
        long sent = 0;
        var zeros = new byte[64 * 1024];
        var sw = Stopwatch.StartNew();
        try
        {
            await stream.WriteAsync(header.ToArray());
            sent += header.Count;
            while (sent < Announced && sw.Elapsed < TimeSpan.FromMinutes(3))
            {
                int n = (int)Math.Min(zeros.Length, Announced - sent);
                await stream.WriteAsync(zeros.AsMemory(0, n));
                sent += n;
            }
        }
        catch (IOException)
        {
            return (sent, true); // reset by the broker
        }
        // Everything went out (or time ran out): the connection is dropped if a read sees its end.
        using var read = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return (sent, await stream.ReadAsync(new byte[16], read.Token) == 0);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            return (sent, ex is IOException);
        }
    }

    private static byte[] Connect(string clientId, string password)
    {
        var body = new List<byte> { 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x05, 0xC2, 0x00, 0x3C, 0x00 };
        foreach (string field in new[] { clientId, clientId, password })
        {
            byte[] b = Encoding.UTF8.GetBytes(field);
            var length = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)b.Length);
            body.AddRange(length);
            body.AddRange(b);
        }
        return [0x10, .. VariableByteInteger(body.Count), .. body];
    }

    private static byte[] VariableByteInteger(long value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value % 128);
            value /= 128;
            bytes.Add(value > 0 ? (byte)(b | 0x80) : b);
        }
        while (value > 0);
        return [.. bytes];
    }
}
