using System.Buffers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Resilience;
using EdgeKws.Shared.Security;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace EdgeKws.Gateway.Broker;

/// <summary>
/// The gateway as an MQTT 5 client of an external broker (Mosquitto here; EMQX/HiveMQ clusters in production).
/// Every instance subscribes to <c>$share/{group}/edgekws/v1/+/+</c>; the broker hands each message to one member.
/// <para>Delivery guarantee. The device's PUBACK now comes from the broker, once the broker holds the message, so the
/// gateway must not lose what the broker gives it: the subscription is QoS 1 in a persistent session (CleanStart false,
/// session expiry), and the gateway acknowledges each message manually (<c>AutoAcknowledge = false</c>, then
/// <c>AcknowledgeAsync</c>) only after its transaction committed. A gateway killed before that PUBACK leaves the
/// message unacknowledged in its session, and the broker sends it again when the instance reconnects with the same
/// client id; if it had committed, the store reports a Duplicate and nothing changes. The handler does not wait for
/// the commit - it returns at once and the PUBACK follows later - so up to <see cref="ExternalBrokerOptions.ReceiveMaximum"/>
/// messages are in flight and the writer commits them in batches.</para>
/// <para>Topic ownership is the broker's ACL (<c>pattern readwrite edgekws/v1/%u/#</c>, see <see cref="MosquittoAuthExport"/>),
/// so the envelope's client id is null and the validator checks the rest (topic form, properties, payload, that the
/// payload's device id is the topic's).</para>
/// <para>A message the store could not commit at all is not acknowledged; the subscriber reconnects so the broker
/// sends it again. Quarantined messages are acknowledged: they are committed to the quarantine table.</para>
/// </summary>
public sealed class ExternalBrokerSubscriber : IAsyncDisposable, IDeviceCommandPublisher
{
    private readonly ExternalBrokerOptions _options;
    private readonly ExponentialBackoff _reconnectBackoff;
    private readonly IngestPipeline _pipeline;
    private readonly ILogger _logger;
    private readonly IMqttClient _client;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _disconnected = new(0, int.MaxValue);
    private readonly X509Certificate2Collection? _trustedCa;
    private readonly Lock _pendingLock = new();
    private TaskCompletionSource? _drained;
    private int _pending;
    private long _connection; // incremented on every (re)connect: an acknowledgement belongs to the connection that delivered the message
    private volatile bool _draining;
    private Task? _reconnectLoop;
    private long _acknowledged, _notAcknowledged, _reconnects;
    private volatile string? _tlsRefusal; // why the last TLS handshake refused the broker's certificate

    /// <summary>Builds the subscriber (does not connect yet).</summary>
    public ExternalBrokerSubscriber(ExternalBrokerOptions options, IngestPipeline pipeline, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        // 0.5 s doubling up to MaxReconnectDelay; a maximum below 0.5 s is the delay from the first retry on.
        _reconnectBackoff = new ExponentialBackoff(TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(500).Ticks, options.MaxReconnectDelay.Ticks)),
            options.MaxReconnectDelay, jitterFraction: 0);
        _pipeline = pipeline;
        _logger = logger;
        if (options.CaCertificatePemPath is not null)
        {
            _trustedCa = [];
            _trustedCa.ImportFromPemFile(options.CaCertificatePemPath);
        }
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += e =>
        {
            if (!_stopping.IsCancellationRequested)
            {
                _logger.LogWarning("lost the external broker {Host}:{Port} ({Reason}); reconnecting", _options.Host, _options.Port, e.ReasonString ?? e.Reason.ToString());
                _disconnected.Release();
            }
            return Task.CompletedTask;
        };
    }

    /// <summary>Messages acknowledged to the broker after their commit.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Messages left unacknowledged (store failure, or received while stopping): the broker sends them again.</summary>
    public long NotAcknowledged => Interlocked.Read(ref _notAcknowledged);

    /// <summary>Reconnects after a lost connection.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Connects and subscribes; throws with the broker's answer when that fails (wrong credentials, ACL, unreachable).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ConnectAsync(cancellationToken).ConfigureAwait(false);
        _reconnectLoop = Task.Run(ReconnectLoopAsync, CancellationToken.None);
    }

    /// <inheritdoc />
    /// <remarks>Through the gateway's own session; the broker's ACL must let the gateway user write <c>edgekws/v1/+/cmd/#</c>
    /// (<c>device export-mosquitto</c> writes that line). Throws when not connected or when the broker refuses the publish.</remarks>
    public async Task PublishCommandAsync(string deviceId, string command, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected)
        {
            throw new InvalidOperationException($"not connected to the external MQTT broker {_options.Host}:{_options.Port}; command '{command}' to '{deviceId}' not sent");
        }
        MqttClientPublishResult r = await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Command(deviceId, command))
            .WithPayload(payload.ToArray())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build(), cancellationToken).ConfigureAwait(false);
        // "No matching subscribers" only means the device is offline right now: its persistent session (if any) gets it later.
        if (!r.IsSuccess && r.ReasonCode != MqttClientPublishReasonCode.NoMatchingSubscribers)
        {
            throw new InvalidOperationException($"the external MQTT broker refused command '{command}' to '{deviceId}': {r.ReasonCode} {r.ReasonString}");
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        MqttClientConnectResult connect;
        _tlsRefusal = null;
        try
        {
            connect = await _client.ConnectAsync(BuildClientOptions(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or TimeoutException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // A refused certificate surfaces from SslStream as "rejected by the validation callback": say why instead.
            string reason = _tlsRefusal ?? ex.Message;
            throw new InvalidOperationException($"cannot reach the external MQTT broker {_options.Host}:{_options.Port}: {reason}", ex);
        }
        if (connect.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new InvalidOperationException(
                $"the external MQTT broker {_options.Host}:{_options.Port} refused client '{_options.ClientId}': {connect.ResultCode} {connect.ReasonString}");
        }
        Interlocked.Increment(ref _connection);
        MqttClientSubscribeResult sub = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(_options.SharedFilter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build(), cancellationToken).ConfigureAwait(false);
        MqttClientSubscribeResultCode code = sub.Items.Single().ResultCode;
        if (code != MqttClientSubscribeResultCode.GrantedQoS1)
        {
            // QoS 0 would let the broker drop messages it already acknowledged to devices.
            await _client.DisconnectAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
            throw new InvalidOperationException($"the external MQTT broker answered {code} to the subscription '{_options.SharedFilter}' (QoS 1 is required; check the broker ACL)");
        }
        _logger.LogInformation("subscribed to {Filter} on {Host}:{Port} as '{ClientId}' (session present: {SessionPresent})",
            _options.SharedFilter, _options.Host, _options.Port, _options.ClientId, connect.IsSessionPresent);
    }

    private async Task ReconnectLoopAsync()
    {
        CancellationToken stop = _stopping.Token;
        try
        {
            while (true)
            {
                await _disconnected.WaitAsync(stop).ConfigureAwait(false);
                int failures = 0;
                while (!_client.IsConnected)
                {
                    try
                    {
                        await ConnectAsync(stop).ConfigureAwait(false);
                        Interlocked.Increment(ref _reconnects);
                    }
                    catch (InvalidOperationException ex)
                    {
                        TimeSpan delay = _reconnectBackoff.Delay(failures++);
                        _logger.LogWarning("reconnect to the external broker failed: {Reason}; next try in {Delay}", ex.Message, delay);
                        await Task.Delay(delay, stop).ConfigureAwait(false);
                    }
                }
                while (_disconnected.CurrentCount > 0 && _client.IsConnected)
                {
                    await _disconnected.WaitAsync(stop).ConfigureAwait(false); // stale signals from the same outage
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // stopping
        }
    }

    private MqttClientOptions BuildClientOptions()
    {
        MqttClientOptionsBuilder b = new MqttClientOptionsBuilder()
            .WithTcpServer(_options.Host, _options.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(_options.ClientId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(_options.SessionExpirySeconds)
            .WithReceiveMaximum(_options.ReceiveMaximum)
            .WithKeepAlivePeriod(_options.KeepAlive)
            .WithTimeout(_options.Timeout);
        if (_options.Username is not null)
        {
            b.WithCredentials(_options.Username, _options.Password);
        }
        if (_options.UseTls)
        {
            b.WithTlsOptions(tls => tls.UseTls()
                .WithTargetHost(_options.TlsServerName ?? _options.Host)
                .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
                .WithCertificateValidationHandler(ValidateBrokerCertificate));
        }
        return b.Build();
    }

    private bool ValidateBrokerCertificate(MqttClientCertificateValidationEventArgs e)
    {
        string expectedName = _options.TlsServerName ?? _options.Host;
        if (e.Certificate is null)
        {
            return RefuseBroker("TLS: the external broker sent no certificate");
        }
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
        if ((e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return RefuseBroker($"TLS: external broker certificate '{certificate.Subject}' is not issued for '{expectedName}' "
                + "(set Gateway:Broker:External:TlsServerName to a name the certificate carries)");
        }
        if (_trustedCa is null)
        {
            return e.SslPolicyErrors == SslPolicyErrors.None
                || RefuseBroker($"TLS: external broker certificate '{certificate.Subject}' issued by '{certificate.Issuer}' is not trusted by "
                    + $"the system trust store ({e.SslPolicyErrors}); set Gateway:Broker:External:CaCertificatePemPath to the CA that signed it");
        }
        return PinnedCaChain.TryBuild(certificate, _trustedCa, e.Chain, out string chainStatus)
            || RefuseBroker($"TLS: external broker certificate '{certificate.Subject}' issued by '{certificate.Issuer}' does not chain to the CA in "
                + $"'{_options.CaCertificatePemPath}' ({chainStatus})");
    }

    private bool RefuseBroker(string reason)
    {
        _tlsRefusal = reason;
        _logger.LogError("{Reason}", reason);
        return false;
    }


    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        // Acknowledge only after the commit (below); never from this handler.
        e.AutoAcknowledge = false;
        if (_draining)
        {
            // Stopping: leave it unacknowledged in the session; it comes back after the restart.
            Interlocked.Increment(ref _notAcknowledged);
            return Task.CompletedTask;
        }
        MqttApplicationMessage m = e.ApplicationMessage;
        var properties = new List<KeyValuePair<string, string>>(m.UserProperties?.Count ?? 0);
        if (m.UserProperties is not null)
        {
            foreach (MqttUserProperty p in m.UserProperties)
            {
                properties.Add(new KeyValuePair<string, string>(p.Name, p.ReadValueAsString()));
            }
        }
        var envelope = new IngestEnvelope(null, m.Topic ?? string.Empty, m.Payload.ToArray(), properties, m.ContentType, DateTimeOffset.UtcNow);
        lock (_pendingLock)
        {
            _pending++;
        }
        // Not awaited: the client keeps delivering while this message waits for its batch.
        _ = CommitThenAcknowledgeAsync(e, envelope, Interlocked.Read(ref _connection));
        return Task.CompletedTask;
    }

    private async Task CommitThenAcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e, IngestEnvelope envelope, long connection)
    {
        try
        {
            IngestResult result = await _pipeline.SubmitAsync(envelope, CancellationToken.None).ConfigureAwait(false);
            if (result.Outcome == IngestOutcome.Failed)
            {
                Interlocked.Increment(ref _notAcknowledged);
                _logger.LogError("could not commit a message on '{Topic}' ({Reason}); not acknowledging it and reconnecting so the broker sends it again",
                    IngestValidator.Truncate(envelope.Topic), result.Reason);
                await _client.DisconnectAsync(cancellationToken: CancellationToken.None).ConfigureAwait(false);
                return;
            }
            if (connection != Interlocked.Read(ref _connection) || !_client.IsConnected)
            {
                // Delivered on a connection that is gone: the broker re-sends it on the new one (then a Duplicate).
                Interlocked.Increment(ref _notAcknowledged);
                return;
            }
            await e.AcknowledgeAsync(CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _acknowledged);
        }
#pragma warning disable CA1031 // A lost PUBACK only means a redelivery, which the store absorbs.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _notAcknowledged);
            _logger.LogWarning("acknowledging a message on '{Topic}' failed ({Reason}); the broker will send it again", IngestValidator.Truncate(envelope.Topic), ex.Message);
        }
        finally
        {
            lock (_pendingLock)
            {
                if (--_pending == 0)
                {
                    _drained?.TrySetResult();
                }
            }
        }
    }

    /// <summary>Stops taking messages, waits until those already taken are committed and acknowledged, then disconnects
    /// (the session and its subscription stay on the broker, so messages published meanwhile wait for the restart).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        _draining = true;
        Task drained;
        lock (_pendingLock)
        {
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_pending == 0)
            {
                _drained.TrySetResult();
            }
            drained = _drained.Task;
        }
        await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(30))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_reconnectLoop is not null)
        {
            await _reconnectLoop.ConfigureAwait(false);
        }
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder()
                    .WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build()).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Best effort: the broker keeps the session either way.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.LogWarning("disconnecting from the external broker failed: {Reason}", ex.Message);
            }
        }
        _logger.LogInformation("external broker subscriber stopped: {Acknowledged} acknowledged, {NotAcknowledged} left for redelivery, {Reconnects} reconnects",
            Acknowledged, NotAcknowledged, Reconnects);
        _client.Dispose();
        _stopping.Dispose();
        _disconnected.Dispose();
    }
}
