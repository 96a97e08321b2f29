using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Resilience;
using EdgeKws.Shared.Security;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Device.Uplink;

/// <summary>Where the uplink's connection loop is.</summary>
public enum UplinkState
{
    /// <summary>Not started, or stopped.</summary>
    Stopped,
    /// <summary>Opening the connection (TCP, TLS, CONNECT/CONNACK).</summary>
    Connecting,
    /// <summary>Connected and pumping the outbox.</summary>
    Connected,
    /// <summary>Waiting out a backoff delay before the next attempt.</summary>
    WaitingToReconnect,
}

/// <summary>Counters since the uplink was created.</summary>
/// <param name="ConnectAttempts">CONNECT attempts, successful or not.</param>
/// <param name="Connects">Successful connections (CONNACK success).</param>
/// <param name="Published">PUBLISH packets sent for outbox items, including re-sends.</param>
/// <param name="Resent">PUBLISH packets of a sequence that had been sent before (re-sends after a lost PUBACK).</param>
/// <param name="Acknowledged">Items acknowledged to the outbox after a success PUBACK.</param>
/// <param name="Refused">Non-success PUBACKs.</param>
/// <param name="DeadLettered">Items handed to <see cref="IOutboxQueue.DeadLetter"/>.</param>
public readonly record struct MqttUplinkStats(long ConnectAttempts, long Connects, long Published, long Resent, long Acknowledged, long Refused, long DeadLettered);

/// <summary>
/// The device's MQTT 5 uplink: drains an <see cref="IOutboxQueue"/> to the broker with QoS 1 on its own task.
/// <para>
/// Delivery rule: an item is acknowledged to the outbox only after a PUBACK with a success reason code
/// (&lt; 0x80). Anything else (connection loss, timeout) leaves it in the outbox and it is sent again, in
/// sequence order, after the reconnect: at-least-once, and the receiver de-duplicates by
/// (device id, <see cref="UserProperties.Sequence"/>).
/// </para>
/// <para>
/// One message in flight at a time, on purpose: the wire order then never depends on the client library's
/// internal send queue, the acknowledged set is always a prefix of the outbox (so an outbox may acknowledge
/// cumulatively), and a lost connection produces at most one duplicate. The cost is one round trip per
/// message, which the traffic (a heartbeat a minute, detections a few per hour, the odd clip) never notices;
/// draining a day-long backlog at 1,440 heartbeats costs 1,440 round trips, about 7 minutes on a 300 ms
/// cellular link. A bounded window is the upgrade if backlogs ever matter.
/// </para>
/// <para>
/// Detection never waits for the broker: producers write to the outbox and at most call the non-blocking
/// <see cref="NotifyEnqueued"/>. The connection loop reconnects forever with <see cref="ExponentialBackoff"/>
/// (there is no managed client in MQTTnet 5). Not thread-safe except <see cref="NotifyEnqueued"/>,
/// <see cref="State"/>, <see cref="LastError"/> and <see cref="Stats"/>.
/// </para>
/// </summary>
public sealed class MqttUplink : IAsyncDisposable
{
    private readonly MqttUplinkOptions _options;
    private readonly IOutboxQueue _outbox;
    private readonly ExponentialBackoff _backoff;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;
    private readonly MqttClientFactory _factory = new();
    private readonly SemaphoreSlim _work = new(0, 1);
    private readonly List<OutboxItem> _batch;
    private readonly string _statusTopic;
    private readonly X509Certificate2Collection? _trustedCa;
    private readonly X509Certificate2? _clientCertificate;
    private readonly MqttClientOptions _clientOptions;

    private CancellationTokenSource? _stop;
    private Task? _loop;
    private volatile UplinkState _state = UplinkState.Stopped;
    private volatile string? _lastError;
    private volatile string? _tlsFailure;
    private long _highestSent = long.MinValue;
    private long _refusedSequence = long.MinValue;
    private int _refusalsOfSequence;
    private long _connectAttempts, _connects, _published, _resent, _acknowledged, _refused, _deadLettered;

    /// <summary>
    /// Creates the uplink (does not connect; see <see cref="Start"/>). Throws <see cref="ArgumentException"/>
    /// for invalid options and <see cref="System.Security.Cryptography.CryptographicException"/> for unreadable PEM files.
    /// </summary>
    /// <param name="options">Connection settings.</param>
    /// <param name="outbox">The store-and-forward queue to drain.</param>
    /// <param name="jitter">Backoff jitter source; null for random.</param>
    /// <param name="delay">How to wait out a backoff; null for <see cref="Task.Delay(TimeSpan, CancellationToken)"/>. Tests record the schedule with it.</param>
    public MqttUplink(MqttUplinkOptions options, IOutboxQueue outbox, IJitterSource? jitter = null, Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(outbox);
        options.Validate();
        _options = options;
        _outbox = outbox;
        _backoff = new ExponentialBackoff(options.InitialBackoff, options.MaxBackoff, options.BackoffJitterFraction, jitter);
        _delay = delay ?? Task.Delay;
        _batch = new List<OutboxItem>(options.BatchSize);
        _statusTopic = Topics.Uplink(options.DeviceId, MessageKind.Status);
        if (options.CaCertificatePemPath is not null)
        {
            _trustedCa = [];
            _trustedCa.ImportFromPemFile(options.CaCertificatePemPath);
            if (_trustedCa.Count == 0)
            {
                throw new ArgumentException($"CaCertificatePemPath '{options.CaCertificatePemPath}' contains no PEM certificate", nameof(options));
            }
        }
        if (options.ClientCertificatePemPath is not null)
        {
            _clientCertificate = X509Certificate2.CreateFromPemFile(options.ClientCertificatePemPath, options.ClientKeyPemPath);
        }
        _clientOptions = BuildClientOptions();
    }

    /// <summary>Connection loop state.</summary>
    public UplinkState State => _state;

    /// <summary>The most recent connection or delivery problem, in words, or null if there was none.</summary>
    public string? LastError => _lastError;

    /// <summary>A snapshot of the counters.</summary>
    public MqttUplinkStats Stats => new(
        Interlocked.Read(ref _connectAttempts), Interlocked.Read(ref _connects), Interlocked.Read(ref _published),
        Interlocked.Read(ref _resent), Interlocked.Read(ref _acknowledged), Interlocked.Read(ref _refused),
        Interlocked.Read(ref _deadLettered));

    /// <summary>The backoff schedule in use.</summary>
    public ExponentialBackoff Backoff => _backoff;

    /// <summary>
    /// Receives the device's commands (<c>edgekws/v1/{deviceId}/cmd/#</c>, QoS 1, on the same persistent
    /// session, so commands published while the device was offline arrive after the reconnect). Null: no
    /// subscription. Set before <see cref="Start"/>. Called on the MQTT client's receive task with the
    /// command name (the topic's last level) and a copy of the payload; it must only queue the work and
    /// return (the PUBACK goes out when it returns; a queued command lost to a crash is not redelivered,
    /// which the model-update protocol tolerates: the transfer times out and the gateway offers again).
    /// </summary>
    public Action<string, byte[]>? CommandReceived { get; set; }

    /// <summary>Starts the connection loop on its own task. Returns immediately.</summary>
    public void Start()
    {
        if (_loop is not null)
        {
            throw new InvalidOperationException("the uplink is already started");
        }
        _stop = new CancellationTokenSource();
        CancellationToken token = _stop.Token;
        _loop = Task.Run(() => RunAsync(token), CancellationToken.None);
    }

    /// <summary>Wakes an idle uplink because the outbox has new items. Never blocks; cheap to call per enqueue.</summary>
    public void NotifyEnqueued()
    {
        if (_work.CurrentCount == 0)
        {
            try
            {
                _work.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another producer woke it first; one wake-up is enough.
            }
        }
    }

    /// <summary>
    /// Stops the loop. When connected it publishes the retained offline status and disconnects cleanly (so
    /// the broker does not send the Last Will). An item whose PUBACK had not arrived stays in the outbox.
    /// </summary>
    public async Task StopAsync()
    {
        if (_loop is null || _stop is null)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _loop = null;
        _stop.Dispose();
        _stop = null;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _work.Dispose();
        _clientCertificate?.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        int failures = 0;
        while (!stop.IsCancellationRequested)
        {
            using IMqttClient client = _factory.CreateMqttClient();
            client.DisconnectedAsync += _ =>
            {
                NotifyEnqueued(); // wake an idle pump so it notices at once
                return Task.CompletedTask;
            };
            Action<string, byte[]>? commands = CommandReceived;
            string commandPrefix = Topics.CommandFilter(_options.DeviceId)[..^1]; // "edgekws/v1/{id}/cmd/"
            if (commands is not null)
            {
                // Attached before CONNECT: a resumed session delivers queued commands right after the CONNACK.
                client.ApplicationMessageReceivedAsync += e =>
                {
                    string topic = e.ApplicationMessage.Topic;
                    if (topic.StartsWith(commandPrefix, StringComparison.Ordinal))
                    {
                        commands(topic[commandPrefix.Length..], System.Buffers.BuffersExtensions.ToArray(e.ApplicationMessage.Payload));
                    }
                    return Task.CompletedTask;
                };
            }
            bool connected = false;
            try
            {
                _state = UplinkState.Connecting;
                Interlocked.Increment(ref _connectAttempts);
                _tlsFailure = null;
                MqttClientConnectResult connack = await client.ConnectAsync(_clientOptions, stop).ConfigureAwait(false);
                if (connack.ResultCode != MqttClientConnectResultCode.Success)
                {
                    // Refusals such as a wrong password arrive as a CONNACK, not as an exception.
                    throw new MqttConnectRefusedException(
                        $"broker refused the connection: {connack.ResultCode} (0x{(int)connack.ResultCode:x2})"
                        + (string.IsNullOrEmpty(connack.ReasonString) ? string.Empty : " " + connack.ReasonString));
                }
                connected = true;
                failures = 0;
                Interlocked.Increment(ref _connects);
                if (commands is not null)
                {
                    // Every time, not only without a session: re-subscribing is idempotent and repairs a session the broker lost.
                    MqttClientSubscribeResult sub = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                        .WithTopicFilter(Topics.CommandFilter(_options.DeviceId), MqttQualityOfServiceLevel.AtLeastOnce).Build(), stop).ConfigureAwait(false);
                    foreach (MqttClientSubscribeResultItem item in sub.Items)
                    {
                        if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
                        {
                            throw new MqttConnectRefusedException($"broker refused the command subscription {item.TopicFilter.Topic}: {item.ResultCode}");
                        }
                    }
                }
                _state = UplinkState.Connected;
                await PublishStatusAsync(client, DeviceState.Online, reason: null, stop).ConfigureAwait(false);
                await PumpAsync(client, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopping.
            }
#pragma warning disable CA1031 // Any failure of a connection attempt or of the pump means: reconnect later. The loop must never die.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _lastError = Describe(ex, connected);
            }

            if (stop.IsCancellationRequested)
            {
                if (connected && client.IsConnected)
                {
                    await GoOfflineAsync(client).ConfigureAwait(false);
                }
                break;
            }

            _state = UplinkState.WaitingToReconnect;
            TimeSpan wait = _backoff.Delay(failures);
            failures++;
            try
            {
                await _delay(wait, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        _state = UplinkState.Stopped;
    }

    private async Task PumpAsync(IMqttClient client, CancellationToken stop)
    {
        while (true)
        {
            stop.ThrowIfCancellationRequested();
            if (!client.IsConnected)
            {
                throw new MqttCommunicationLostException("connection lost while idle");
            }
            _batch.Clear();
            if (_outbox.PeekBatch(_options.BatchSize, _batch) == 0)
            {
                await _work.WaitAsync(_options.IdlePollInterval, stop).ConfigureAwait(false);
                continue;
            }
            long previous = long.MinValue;
            foreach (OutboxItem item in _batch)
            {
                if (item.Sequence <= previous)
                {
                    throw new InvalidOperationException(
                        $"outbox returned sequence {item.Sequence} after {previous}; PeekBatch must return ascending sequence order");
                }
                previous = item.Sequence;
                if (!await PublishOneAsync(client, item, stop).ConfigureAwait(false))
                {
                    break; // transient refusal: the item stays at the head, re-peek after the pause
                }
            }
        }
    }

    /// <returns>False when the broker refused the item transiently and it should be retried later.</returns>
    private async Task<bool> PublishOneAsync(IMqttClient client, OutboxItem item, CancellationToken stop)
    {
        if (!Topics.TryParseUplink(item.Topic, out string topicDevice, out MessageKind kind, out string reason)
            || !string.Equals(topicDevice, _options.DeviceId, StringComparison.Ordinal))
        {
            DeadLetter(item.Sequence, reason.Length > 0 ? reason : $"topic '{item.Topic}' belongs to device '{topicDevice}', not '{_options.DeviceId}'");
            return true;
        }
        if (item.FeatureConfigHash is not null
            && !FeatureConfigHash.TryValidate(item.FeatureConfigHash, $"user property {UserProperties.FeatureConfigHash}", out string hashReason))
        {
            // The gateway would quarantine it anyway; dead-lettering here keeps it from being sent at all.
            DeadLetter(item.Sequence, hashReason);
            return true;
        }

        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(item.Topic)
            .WithPayloadSegment(item.Payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithContentType(kind is MessageKind.ClipAudio or MessageKind.ClipFeatures ? ContentTypes.Clip : ContentTypes.Json)
            .WithUserProperty(UserProperties.Sequence, Utf8(item.Sequence.ToString(CultureInfo.InvariantCulture)))
            .WithUserProperty(UserProperties.SchemaVersion, Utf8(item.SchemaVersion.ToString(CultureInfo.InvariantCulture)))
            .WithUserProperty(UserProperties.MessageKind, Utf8(Topics.KindSegment(kind)));
        if (item.FeatureConfigHash is not null)
        {
            builder.WithUserProperty(UserProperties.FeatureConfigHash, Utf8(item.FeatureConfigHash));
        }

        if (item.Sequence <= _highestSent)
        {
            Interlocked.Increment(ref _resent);
        }
        else
        {
            _highestSent = item.Sequence;
        }
        Interlocked.Increment(ref _published);
        MqttClientPublishResult result = await client.PublishAsync(builder.Build(), stop).ConfigureAwait(false);

        // MQTT 5: reason codes below 0x80 are successes (0x10 "no matching subscribers" included: the broker has it).
        if ((int)result.ReasonCode < 0x80)
        {
            _outbox.Acknowledge(item.Sequence);
            Interlocked.Increment(ref _acknowledged);
            return true;
        }

        Interlocked.Increment(ref _refused);
        if (_refusedSequence != item.Sequence)
        {
            _refusedSequence = item.Sequence;
            _refusalsOfSequence = 0;
        }
        _refusalsOfSequence++;
        string refusal = $"broker refused sequence {item.Sequence} on '{item.Topic}': {result.ReasonCode} (0x{(int)result.ReasonCode:x2})"
            + (string.IsNullOrEmpty(result.ReasonString) ? string.Empty : $" {result.ReasonString}");
        _lastError = refusal;
        bool permanent = result.ReasonCode is MqttClientPublishReasonCode.NotAuthorized
            or MqttClientPublishReasonCode.TopicNameInvalid
            or MqttClientPublishReasonCode.PayloadFormatInvalid;
        if (permanent || _refusalsOfSequence >= _options.MaxRefusalsPerMessage)
        {
            DeadLetter(item.Sequence, permanent ? refusal : $"{refusal}; gave up after {_refusalsOfSequence} refusals");
            return true;
        }
        await _delay(_backoff.Delay(_refusalsOfSequence - 1), stop).ConfigureAwait(false);
        return false;
    }

    private void DeadLetter(long sequence, string reason)
    {
        _outbox.DeadLetter(sequence, reason);
        Interlocked.Increment(ref _deadLettered);
        _lastError = $"dead-lettered sequence {sequence}: {reason}";
    }

    private Task PublishStatusAsync(IMqttClient client, DeviceState state, string? reason, CancellationToken cancel)
    {
        MqttApplicationMessage message = new MqttApplicationMessageBuilder()
            .WithTopic(_statusTopic)
            .WithPayload(StatusPayload(state, reason))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .WithContentType(ContentTypes.Json)
            .WithUserProperty(UserProperties.SchemaVersion, Utf8(WireLimits.SchemaVersion.ToString(CultureInfo.InvariantCulture)))
            .WithUserProperty(UserProperties.MessageKind, Utf8(Topics.KindSegment(MessageKind.Status)))
            .Build();
        return client.PublishAsync(message, cancel);
    }

    private async Task GoOfflineAsync(IMqttClient client)
    {
        using var timeout = new CancellationTokenSource(_options.OperationTimeout);
        try
        {
            await PublishStatusAsync(client, DeviceState.Offline, "shutdown", timeout.Token).ConfigureAwait(false);
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(),
                timeout.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Best effort on shutdown: if it fails the broker publishes the Last Will instead.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _lastError = "clean disconnect failed (the broker will publish the Last Will): " + ex.Message;
        }
    }

    private byte[] StatusPayload(DeviceState state, string? reason) =>
        WireJson.Serialize(new DeviceStatus { DeviceId = _options.DeviceId, State = state, Reason = reason });

    private MqttClientOptions BuildClientOptions()
    {
        MqttClientOptionsBuilder b = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Host, _options.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(_options.DeviceId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(_options.SessionExpirySeconds)
            .WithKeepAlivePeriod(_options.KeepAlive)
            .WithTimeout(_options.OperationTimeout)
            .WithWillTopic(_statusTopic)
            .WithWillPayload(StatusPayload(DeviceState.Offline, "connection lost"))
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillRetain(true)
            .WithWillContentType(ContentTypes.Json)
            .WithWillUserProperty(UserProperties.SchemaVersion, Utf8(WireLimits.SchemaVersion.ToString(CultureInfo.InvariantCulture)))
            .WithWillUserProperty(UserProperties.MessageKind, Utf8(Topics.KindSegment(MessageKind.Status)));
        if (_options.Username is not null)
        {
            b.WithCredentials(_options.Username, _options.Password is null ? null : Encoding.UTF8.GetBytes(_options.Password));
        }
        if (_options.UseTls)
        {
            b.WithTlsOptions(tls =>
            {
                tls.UseTls()
                    .WithTargetHost(_options.TlsServerName ?? _options.Host)
                    .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
                    .WithCertificateValidationHandler(ValidateBrokerCertificate);
                if (_clientCertificate is not null)
                {
                    tls.WithClientCertificates([_clientCertificate]);
                }
            });
        }
        return b.Build();
    }

    /// <summary>
    /// Trusts the broker only through the configured CA (custom root trust, not the system store) and records
    /// why a certificate was refused, because SslStream's own exception only says "rejected by the callback".
    /// Revocation is not checked: boards often cannot reach CRL/OCSP endpoints; rotate short-lived certificates instead.
    /// </summary>
    private bool ValidateBrokerCertificate(MqttClientCertificateValidationEventArgs e)
    {
        if (e.Certificate is null)
        {
            _tlsFailure = "the broker presented no certificate";
            return false;
        }
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
        string host = _options.TlsServerName ?? _options.Host;
        if ((e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            _tlsFailure = $"broker certificate '{certificate.Subject}' is not issued for '{host}' (check its subject alternative names or set TlsServerName)";
            return false;
        }
        if (_trustedCa is null)
        {
            if (e.SslPolicyErrors == SslPolicyErrors.None)
            {
                return true;
            }
            _tlsFailure = $"broker certificate '{certificate.Subject}' issued by '{certificate.Issuer}' is not trusted by the system trust store "
                + $"({PinnedCaChain.Describe(e.Chain)}); set CaCertificatePemPath to the CA that signed it";
            return false;
        }
        if (PinnedCaChain.TryBuild(certificate, _trustedCa, e.Chain, out string chainStatus))
        {
            return true;
        }
        _tlsFailure = $"broker certificate '{certificate.Subject}' issued by '{certificate.Issuer}' does not chain to the CA in "
            + $"'{_options.CaCertificatePemPath}' ({chainStatus})";
        return false;
    }

    private static ReadOnlyMemory<byte> Utf8(string value) => Encoding.UTF8.GetBytes(value);

    private string Describe(Exception ex, bool wasConnected)
    {
        var sb = new StringBuilder(wasConnected ? "connection to " : "connect to ");
        sb.Append(_options.Host).Append(':').Append(_options.Port).Append(wasConnected ? " lost: " : " failed: ");
        if (_tlsFailure is { } tls)
        {
            sb.Append("TLS: ").Append(tls).Append(". ");
        }
        string? last = null;
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (last is null || !last.Contains(e.Message, StringComparison.Ordinal))
            {
                if (last is not null)
                {
                    sb.Append(" <- ");
                }
                sb.Append(e.Message);
                last = e.Message;
            }
        }
        if (!wasConnected && _options.UseTls && _clientCertificate is null && _tlsFailure is null)
        {
            sb.Append(" (no client certificate is configured; a broker that requires one drops the TLS handshake)");
        }
        return sb.ToString();
    }

    private sealed class MqttCommunicationLostException(string message) : Exception(message);

    private sealed class MqttConnectRefusedException(string message) : Exception(message);
}
