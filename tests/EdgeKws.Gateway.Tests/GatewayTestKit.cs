using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Gateway.Tests;

/// <summary>Collects log lines so a test can assert that something was logged.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
    }
}

/// <summary>A real gateway (embedded broker + SQLite file) in the test process on a free loopback port.</summary>
internal sealed class InProcessGateway : IAsyncDisposable
{
    public const string Password = "correct-horse-battery";

    private readonly TempDirectory _dir = new();
    private readonly ILoggerFactory _loggers;

    private InProcessGateway(Action<GatewayOptions>? configure)
    {
        Options = new GatewayOptions
        {
            Broker = new BrokerOptions { Port = TestWait.FreeLoopbackPort() },
            Store = new StoreOptions { DatabasePath = _dir.File("gateway.db") },
        };
        configure?.Invoke(Options);
        _loggers = LoggerFactory.Create(b => b.AddProvider(Log).SetMinimumLevel(LogLevel.Information));
        Service = new GatewayService(Microsoft.Extensions.Options.Options.Create(Options), _loggers);
    }

    public GatewayOptions Options { get; }

    public GatewayService Service { get; }

    public CapturingLoggerProvider Log { get; } = new();

    public IGatewayStore Store => Service.Store;

    public int Port => Options.Broker.Port;

    public static Task<InProcessGateway> StartAsync(params string[] devices) => StartAsync(null, devices);

    public static async Task<InProcessGateway> StartAsync(Action<GatewayOptions>? configure, params string[] devices)
    {
        var gateway = new InProcessGateway(configure);
        try
        {
            await gateway.Service.StartAsync(CancellationToken.None);
        }
        catch
        {
            await gateway.DisposeAsync(); // a test expecting the start to fail must not leak the service or its temp dir
            throw;
        }
        foreach (string device in devices)
        {
            // Few iterations keep the tests fast; the hashing path is the production one.
            gateway.Store.SetDeviceCredential(device, PasswordHash.Create(Password, iterations: 1_000));
        }
        return gateway;
    }

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAsync();
        _loggers.Dispose();
        _dir.Dispose();
    }
}

/// <summary>Valid wire messages and a plain MQTT 5 publisher.</summary>
internal static class Wire
{
    public static readonly string ConfigHash = Convert.ToHexStringLower(SHA256.HashData("edgekws gateway test config"u8));

    public static readonly DateTimeOffset Time0 = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    public static DetectionReport Detection(string deviceId, int n) => new()
    {
        DeviceId = deviceId,
        DeviceTimeUtc = Time0.AddSeconds(n),
        StreamOffsetMs = n * 1000L,
        Score = 0.9f,
        Keyword = "hey edge",
        ModelVersion = "kws-1.0.0",
        FeatureConfigHash = ConfigHash,
    };

    public static Heartbeat Heartbeat(string deviceId, int n) => new()
    {
        DeviceId = deviceId,
        DeviceTimeUtc = Time0.AddMinutes(n),
        IntervalSeconds = 60,
        ListeningSeconds = 59.5,
        Detections = 1,
        ModelVersion = "kws-1.0.0",
        RssBytes = 12_000_000,
        UptimeSeconds = 60 * n,
    };

    public static DriftSketch Sketch(string deviceId)
    {
        var s = new DriftSketch
        {
            DeviceId = deviceId,
            ModelVersion = "kws-1.0.0",
            FeatureConfigHash = ConfigHash,
            WindowStartUtc = Time0,
            WindowEndUtc = Time0.AddHours(1),
        };
        Span<float> frame = stackalloc float[DriftSketchLayout.CoefficientCount];
        for (int i = 0; i < 50; i++)
        {
            for (int c = 0; c < frame.Length; c++)
            {
                frame[c] = (i - 25) * 0.5f + c;
            }
            s.AddMfccFrame(frame);
            s.AddScore(i / 50f);
        }
        return s;
    }

    public static ModelStatus ModelStatus(string deviceId) => new()
    {
        DeviceId = deviceId,
        DeviceTimeUtc = Time0,
        ActiveSlot = ModelSlot.B,
        ActiveModelVersion = "kws-1.1.0",
        UpdateResult = ModelUpdateResult.Activated,
        TargetModelVersion = "kws-1.1.0",
    };

    public static byte[] FeatureClip(Guid clipId, int frames = 98)
    {
        var values = new float[frames * 13];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = MathF.Sin(i * 0.1f) * 10f;
        }
        var frame = new byte[ClipFeatures.GetFrameSizeBytes(frames, 13)];
        ClipFeatures.Write(frame, clipId, Time0, 16_000, Convert.FromHexString(ConfigHash), 13, values);
        return frame;
    }

    public static byte[] AudioClip(Guid clipId, int samples = 16_000)
    {
        var pcm = new short[samples];
        for (int i = 0; i < pcm.Length; i++)
        {
            pcm[i] = (short)(Math.Sin(i * 0.05) * 8000);
        }
        var frame = new byte[ClipAudio.GetFrameSizeBytes(samples)];
        ClipAudio.Write(frame, clipId, Time0, 16_000, Convert.FromHexString(ConfigHash), consentGranted: true, pcm);
        return frame;
    }

    /// <summary>The user properties the device's uplink sends.</summary>
    public static List<(string Name, string Value)> Properties(long sequence, MessageKind kind, string? configHash) =>
    [
        (UserProperties.Sequence, sequence.ToString(CultureInfo.InvariantCulture)),
        (UserProperties.SchemaVersion, "1"),
        (UserProperties.MessageKind, Topics.KindSegment(kind)),
        .. configHash is null ? Array.Empty<(string, string)>() : [(UserProperties.FeatureConfigHash, configHash)],
    ];

    /// <summary>The uplink of <paramref name="deviceId"/>; <paramref name="useTls"/> connects over TLS, trusting the CA in
    /// <paramref name="caPemPath"/> (null: the system trust store).</summary>
    public static MqttUplinkOptions UplinkOptions(int port, string deviceId, bool useTls = false, string? caPemPath = null) => new()
    {
        DeviceId = deviceId,
        Host = "127.0.0.1",
        Port = port,
        UseTls = useTls,
        CaCertificatePemPath = caPemPath,
        Username = deviceId,
        Password = InProcessGateway.Password,
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
        // Liveness bounds against a silently dead link only (a stopped broker closes its sockets): generous, so a
        // loaded CI machine never turns a late PUBACK or keep-alive ping into a reconnect and a re-sent message.
        KeepAlive = TimeSpan.FromSeconds(60),
        OperationTimeout = TimeSpan.FromSeconds(60),
        IdlePollInterval = TimeSpan.FromMilliseconds(50),
    };
}

/// <summary>A plain MQTTnet 5 client that publishes whatever the test gives it (including junk).</summary>
internal sealed class RawPublisher : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();

    public static async Task<RawPublisher> ConnectAsync(int port, string deviceId, string password = InProcessGateway.Password)
    {
        var p = new RawPublisher();
        MqttClientConnectResult r = await p.TryConnectAsync(port, deviceId, password);
        Assert.Equal(MqttClientConnectResultCode.Success, r.ResultCode);
        return p;
    }

    public async Task<MqttClientConnectResult> TryConnectAsync(int port, string deviceId, string password)
    {
        MqttClientOptions options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(deviceId)
            .WithCredentials(deviceId, password)
            .WithTimeout(TimeSpan.FromSeconds(60)) // liveness only: the PUBACK follows a commit, seconds late on a loaded CI machine
            .Build();
        // MQTTnet 5 reports a refused CONNACK as a result, not as an exception.
        return await _client.ConnectAsync(options);
    }

    public async Task<MqttClientPublishReasonCode> PublishAsync(string topic, byte[] payload, IEnumerable<(string Name, string Value)> properties,
        string? contentType = null)
    {
        var b = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (contentType is not null)
        {
            b.WithContentType(contentType);
        }
        foreach ((string name, string value) in properties)
        {
            b.WithUserProperty(name, Encoding.UTF8.GetBytes(value));
        }
        MqttClientPublishResult result = await _client.PublishAsync(b.Build());
        return result.ReasonCode;
    }

    public async Task<MqttClientSubscribeResultCode> SubscribeAsync(string filter)
    {
        MqttClientSubscribeResult r = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return r.Items.Single().ResultCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }
        _client.Dispose();
    }
}
