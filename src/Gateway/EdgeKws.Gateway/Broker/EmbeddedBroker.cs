using System.Buffers;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace EdgeKws.Gateway.Broker;

/// <summary>
/// The embedded MQTTnet 5 broker and its security rules. Devices connect with client id = user name = device id
/// and the password provisioned in the store (PBKDF2). Every publish goes through the ingest pipeline inside
/// MQTTnet's intercepting-publish event, which the broker awaits before it sends the PUBACK: so the PUBACK means
/// "committed to the database", and the pipeline's result picks the PUBACK reason code:
/// <list type="bullet">
/// <item>stored or duplicate: Success;</item>
/// <item>foreign topic: NotAuthorized (also quarantined, logged and counted);</item>
/// <item>invalid topic in its own subtree: TopicNameInvalid; invalid properties or payload: PayloadFormatInvalid (quarantined;
/// the device's uplink dead-letters on these codes instead of retrying);</item>
/// <item>failed (the database refuses writes): the connection is closed without PUBACK so the device re-sends later.</item>
/// </list>
/// The handlers are attached before <see cref="StartAsync"/> opens the listeners, so no device is admitted
/// before ingest is ready. A device may subscribe only inside its own subtree (its commands).
/// <para>Packet size: the listeners are a <see cref="PacketSizeLimitedServerAdapter"/>, so a packet announcing more than
/// the maximum (<see cref="GatewayOptions.EffectiveMaxPacketBytes"/>) is refused when its fixed header arrives, before
/// MQTTnet buffers it, and its connection is dropped (logged, counted in <see cref="GatewayMetricsSnapshot.PacketsTooLarge"/>).</para>
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable, IDeviceCommandPublisher
{
    private const string DeviceIdItem = "edgekws.device";

    // Marks messages the gateway injects itself (device commands): they are routed to subscribers, not ingested.
    private const string GatewayCommandItem = "edgekws.gateway-command";

    private readonly BrokerOptions _options;
    private readonly IIngestStore _store;
    private readonly IngestPipeline _pipeline;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly MqttServer _server;
    private readonly X509Certificate2? _certificate;

    /// <summary>Builds the broker (does not listen yet).</summary>
    /// <param name="options">Listeners and timeouts.</param>
    /// <param name="store">Device credentials.</param>
    /// <param name="pipeline">Where publishes go.</param>
    /// <param name="metrics">Counters.</param>
    /// <param name="logger">Log.</param>
    /// <param name="maxPacketBytes">Largest MQTT packet accepted; 0: the default <c>Ingest:MaxMessageBytes</c> (1 MiB) + 64 KiB.</param>
    public EmbeddedBroker(BrokerOptions options, IIngestStore store, IngestPipeline pipeline, GatewayMetrics metrics, ILogger logger, int maxPacketBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _store = store;
        _pipeline = pipeline;
        _metrics = metrics;
        _logger = logger;

        var factory = new MqttServerFactory();
        MqttServerOptionsBuilder b = factory.CreateServerOptionsBuilder()
            .WithDefaultCommunicationTimeout(options.CommunicationTimeout)
            // One in-flight message per device is the uplink's design; the queue bound only matters for command subscribers.
            .WithMaxPendingMessagesPerClient(1000);
        IPAddress bind = IPAddress.Parse(options.BindAddress);
        if (options.Port > 0)
        {
            b.WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(bind).WithDefaultEndpointPort(options.Port);
        }
        if (options.Tls.Enabled)
        {
            // SslStream on Linux can use the PEM key directly; export/import makes the key persistable for every platform.
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(options.Tls.CertificatePemPath!, options.Tls.KeyPemPath);
            _certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            b.WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(bind)
                .WithEncryptedEndpointPort(options.Tls.Port)
                .WithEncryptionCertificate(_certificate)
                .WithEncryptionSslProtocol(SslProtocols.Tls12 | SslProtocols.Tls13);
        }
        MaxPacketBytes = maxPacketBytes > 0 ? maxPacketBytes : new GatewayOptions().EffectiveMaxPacketBytes;
        var listener = new PacketSizeLimitedServerAdapter(MaxPacketBytes, (remote, announced) =>
        {
            Interlocked.Increment(ref _metrics.PacketsTooLarge);
            _logger.LogWarning("refused an MQTT packet of {Announced} bytes from {Endpoint} (maximum {Max}): connection dropped before buffering it",
                announced, remote, MaxPacketBytes);
        });
        _server = factory.CreateMqttServer(b.Build(), [listener]);
        _server.ValidatingConnectionAsync += ValidateConnectionAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        _server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
    }

    /// <summary>Largest MQTT packet (remaining length) accepted.</summary>
    public int MaxPacketBytes { get; }

    /// <summary>Opens the listeners.</summary>
    public async Task StartAsync()
    {
        await _server.StartAsync().ConfigureAwait(false);
        _logger.LogInformation("embedded MQTT broker listening on {Address}{Plain}{Tls}, packets up to {MaxPacket} bytes", _options.BindAddress,
            _options.Port > 0 ? $" port {_options.Port}" : string.Empty, _options.Tls.Enabled ? $" TLS port {_options.Tls.Port}" : string.Empty, MaxPacketBytes);
    }

    /// <summary>Closes the listeners and every connection.</summary>
    public async Task StopAsync()
    {
        if (_server.IsStarted)
        {
            await _server.StopAsync(new MqttServerStopOptions()).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _server.Dispose();
        _certificate?.Dispose();
    }

    /// <inheritdoc />
    public async Task PublishCommandAsync(string deviceId, string command, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        MqttApplicationMessage message = new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Command(deviceId, command))
            .WithPayload(payload.ToArray())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        var items = new Dictionary<object, object> { [GatewayCommandItem] = true };
        await _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = "edgekws-gateway", CustomSessionItems = items },
            cancellationToken).ConfigureAwait(false);
    }

    private Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        string clientId = e.ClientId ?? string.Empty;
        string? refusal = null;
        if (!Topics.TryValidateDeviceId(clientId, out string why))
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            refusal = "client id: " + why;
        }
        else if (!string.Equals(e.UserName, clientId, StringComparison.Ordinal))
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            refusal = $"user name '{IngestValidator.Truncate(e.UserName)}' differs from the client id (both must be the device id)";
        }
        else if (!TryGetCredential(clientId, out PasswordHash? credential, out bool storeDown))
        {
            // A store that cannot answer is not a wrong password: "server unavailable" tells the device to come back later.
            e.ReasonCode = storeDown ? MqttConnectReasonCode.ServerUnavailable : MqttConnectReasonCode.BadUserNameOrPassword;
            refusal = storeDown ? "the store is unavailable, credentials cannot be checked" : "no credential is provisioned for this device";
        }
        else if (!credential!.Verify(e.RawPassword ?? []))
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            refusal = "wrong password";
        }

        if (refusal is not null)
        {
            Interlocked.Increment(ref _metrics.AuthFailures);
            _logger.LogWarning("refused connection of client '{ClientId}' from {Endpoint}: {Reason}",
                IngestValidator.Truncate(clientId), e.ChannelAdapter?.RemoteEndPoint, refusal);
            return Task.CompletedTask;
        }
        e.SessionItems[DeviceIdItem] = clientId;
        e.ReasonCode = MqttConnectReasonCode.Success;
        return Task.CompletedTask;
    }

    private bool TryGetCredential(string deviceId, out PasswordHash? credential, out bool storeDown)
    {
        storeDown = false;
        try
        {
            return _store.TryGetDeviceCredential(deviceId, out credential);
        }
        catch (Exception ex) when (StoreErrors.IsTransient(ex))
        {
            storeDown = true;
            credential = null;
            return false;
        }
    }

    private async Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        // MQTTnet awaits this handler on the connection's receive loop and only then sends the PUBACK.
        // An exception here would kill the connection, so everything is caught and turned into a result.
        try
        {
            if (e.SessionItems is { } own && own.Contains(GatewayCommandItem))
            {
                return; // a command the gateway injected: route it to the device's subscription as is
            }
            MqttApplicationMessage m = e.ApplicationMessage;
            string? deviceId = e.SessionItems[DeviceIdItem] as string;
            var envelope = new IngestEnvelope(deviceId ?? e.ClientId ?? string.Empty, m.Topic ?? string.Empty, m.Payload.ToArray(),
                ReadProperties(m.UserProperties), m.ContentType, DateTimeOffset.UtcNow);
            IngestResult result = await _pipeline.SubmitAsync(envelope, e.CancellationToken).ConfigureAwait(false);
            switch (result.Outcome)
            {
                case IngestOutcome.Stored:
                case IngestOutcome.Duplicate:
                    // The gateway is the consumer: nothing is routed on (devices may not subscribe to uplink topics),
                    // so the PUBACK is a plain Success rather than "no matching subscribers".
                    e.ProcessPublish = false;
                    e.Response.ReasonCode = MqttPubAckReasonCode.Success;
                    break;
                case IngestOutcome.Quarantined:
                    e.ProcessPublish = false;
                    e.Response.ReasonCode = result.Rejection switch
                    {
                        RejectionKind.ForeignTopic => MqttPubAckReasonCode.NotAuthorized,
                        RejectionKind.InvalidTopic => MqttPubAckReasonCode.TopicNameInvalid,
                        RejectionKind.StoreError => MqttPubAckReasonCode.ImplementationSpecificError,
                        _ => MqttPubAckReasonCode.PayloadFormatInvalid,
                    };
                    e.Response.ReasonString = IngestValidator.Truncate(result.Reason);
                    break;
                default:
                    // Not stored: no PUBACK at all, so the device keeps the message and re-sends after reconnecting.
                    e.ProcessPublish = false;
                    e.CloseConnection = true;
                    break;
            }
        }
#pragma warning disable CA1031 // See above: never let an exception reach MQTTnet's receive loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.LogError(ex, "ingest of a publish from '{ClientId}' failed unexpectedly; closing the connection so it is re-sent", e.ClientId);
            e.ProcessPublish = false;
            e.CloseConnection = true;
        }
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        string? deviceId = e.SessionItems[DeviceIdItem] as string;
        string filter = e.TopicFilter.Topic ?? string.Empty;
        if (deviceId is null || !filter.StartsWith(Topics.Root + "/" + deviceId + "/", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _metrics.SubscribeRefused);
            _logger.LogWarning("refused subscription of '{ClientId}' to '{Filter}': a device may subscribe only inside its own subtree",
                e.ClientId, IngestValidator.Truncate(filter));
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }
        return Task.CompletedTask;
    }

    private static List<KeyValuePair<string, string>> ReadProperties(IReadOnlyCollection<MqttUserProperty>? properties)
    {
        var list = new List<KeyValuePair<string, string>>(properties?.Count ?? 0);
        if (properties is not null)
        {
            foreach (MqttUserProperty p in properties)
            {
                list.Add(new KeyValuePair<string, string>(p.Name, p.ReadValueAsString()));
            }
        }
        return list;
    }
}
