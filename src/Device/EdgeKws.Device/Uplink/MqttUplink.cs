using System.Text;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Resilience;
using MQTTnet;

namespace EdgeKws.Device.Uplink;

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
/// (there is no managed client in MQTTnet 5). This type is the connection lifecycle; the parts it composes are
/// <see cref="OutboxPublisher"/> (the publish loop), <see cref="CommandSubscription"/> (the downlink),
/// <see cref="BrokerTlsTrust"/> and <see cref="UplinkClientOptions"/> (what CONNECT sends) and
/// <see cref="DeviceStatusMessages"/> (online/offline status and the Last Will). Not thread-safe except <see cref="NotifyEnqueued"/>,
/// <see cref="State"/>, <see cref="LastError"/> and <see cref="Stats"/>.
/// </para>
/// </summary>
public sealed class MqttUplink : IAsyncDisposable
{
    private readonly MqttUplinkOptions _options;
    private readonly ExponentialBackoff _backoff;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;
    private readonly MqttClientFactory _factory = new();
    private readonly BrokerTlsTrust _tls;
    private readonly MqttClientOptions _clientOptions;
    private readonly OutboxPublisher _publisher;

    private CancellationTokenSource? _stop;
    private Task? _loop;
    private volatile UplinkState _state = UplinkState.Stopped;
    private volatile string? _lastError;
    private long _connectAttempts, _connects;

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
        _backoff = new ExponentialBackoff(options.InitialBackoff, options.MaxBackoff, options.BackoffJitterFraction, jitter);
        _delay = delay ?? Task.Delay;
        _tls = new BrokerTlsTrust(options);
        _clientOptions = UplinkClientOptions.Build(options, _tls);
        _publisher = new OutboxPublisher(options, outbox, _backoff, _delay, problem => _lastError = problem);
    }

    /// <summary>Connection loop state.</summary>
    public UplinkState State => _state;

    /// <summary>The most recent connection or delivery problem, in words, or null if there was none.</summary>
    public string? LastError => _lastError;

    /// <summary>A snapshot of the counters.</summary>
    public MqttUplinkStats Stats => new(
        Interlocked.Read(ref _connectAttempts), Interlocked.Read(ref _connects), _publisher.Published,
        _publisher.Resent, _publisher.Acknowledged, _publisher.Refused, _publisher.DeadLettered);

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
    public void NotifyEnqueued() => _publisher.Wake();

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
        _publisher.Dispose();
        _tls.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        int failures = 0;
        while (!stop.IsCancellationRequested)
        {
            using IMqttClient client = _factory.CreateMqttClient();
            client.DisconnectedAsync += _ =>
            {
                _publisher.Wake(); // wake an idle pump so it notices at once
                return Task.CompletedTask;
            };
            Action<string, byte[]>? commands = CommandReceived;
            if (commands is not null)
            {
                CommandSubscription.Attach(client, _options.DeviceId, commands);
            }
            bool connected = false;
            try
            {
                _state = UplinkState.Connecting;
                Interlocked.Increment(ref _connectAttempts);
                _tls.ClearFailure();
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
                if (commands is not null
                    && await CommandSubscription.SubscribeAsync(client, _options.DeviceId, stop).ConfigureAwait(false) is { } refusal)
                {
                    throw new MqttConnectRefusedException(refusal);
                }
                _state = UplinkState.Connected;
                await client.PublishAsync(DeviceStatusMessages.Build(_options.DeviceId, DeviceState.Online, reason: null), stop).ConfigureAwait(false);
                await _publisher.PumpAsync(client, stop).ConfigureAwait(false);
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

    private async Task GoOfflineAsync(IMqttClient client)
    {
        using var timeout = new CancellationTokenSource(_options.OperationTimeout);
        try
        {
            await client.PublishAsync(DeviceStatusMessages.Build(_options.DeviceId, DeviceState.Offline, "shutdown"), timeout.Token).ConfigureAwait(false);
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

    private string Describe(Exception ex, bool wasConnected)
    {
        var sb = new StringBuilder(wasConnected ? "connection to " : "connect to ");
        sb.Append(_options.Host).Append(':').Append(_options.Port).Append(wasConnected ? " lost: " : " failed: ");
        string? tlsFailure = _tls.LastFailure;
        if (tlsFailure is not null)
        {
            sb.Append("TLS: ").Append(tlsFailure).Append(". ");
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
        if (!wasConnected && _options.UseTls && !_tls.HasClientCertificate && tlsFailure is null)
        {
            sb.Append(" (no client certificate is configured; a broker that requires one drops the TLS handshake)");
        }
        return sb.ToString();
    }

    private sealed class MqttConnectRefusedException(string message) : Exception(message);
}
