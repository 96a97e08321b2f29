using System.Globalization;
using System.Text;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Resilience;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeKws.Device.Uplink;

/// <summary>
/// The publish side of <see cref="MqttUplink"/>: drains the outbox over one connected client, one QoS 1
/// message in flight at a time, acknowledging an item only after a success PUBACK and dead-lettering what
/// the broker will never take. Runs on the uplink's task; <see cref="Wake"/> and the counters are thread-safe.
/// Owns the wake-up signal: the uplink disposes this when it is disposed.
/// </summary>
internal sealed class OutboxPublisher : IDisposable
{
    private readonly MqttUplinkOptions _options;
    private readonly IOutboxQueue _outbox;
    private readonly ExponentialBackoff _backoff;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;
    private readonly Action<string> _reportProblem;
    private readonly SemaphoreSlim _work = new(0, 1);
    private readonly List<OutboxItem> _batch;

    private long _highestSent = long.MinValue;
    private long _refusedSequence = long.MinValue;
    private int _refusalsOfSequence;
    private long _published, _resent, _acknowledged, _refused, _deadLettered;

    /// <param name="options">Device id, batch size, idle poll interval, refusal limit.</param>
    /// <param name="outbox">The store-and-forward queue to drain.</param>
    /// <param name="backoff">Pause schedule between transient refusals of one item.</param>
    /// <param name="delay">How to wait out a pause.</param>
    /// <param name="reportProblem">Receives a refusal or dead-letter in words (the uplink's <see cref="MqttUplink.LastError"/>).</param>
    public OutboxPublisher(MqttUplinkOptions options, IOutboxQueue outbox, ExponentialBackoff backoff,
        Func<TimeSpan, CancellationToken, Task> delay, Action<string> reportProblem)
    {
        _options = options;
        _outbox = outbox;
        _backoff = backoff;
        _delay = delay;
        _reportProblem = reportProblem;
        _batch = new List<OutboxItem>(options.BatchSize);
    }

    /// <summary>PUBLISH packets sent for outbox items, including re-sends.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>PUBLISH packets of a sequence that had been sent before.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Items acknowledged to the outbox after a success PUBACK.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Non-success PUBACKs.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Items handed to <see cref="IOutboxQueue.DeadLetter"/>.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Wakes an idle <see cref="PumpAsync"/>. Never blocks.</summary>
    public void Wake()
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
    /// Publishes the outbox in sequence order until the connection is lost (throws) or <paramref name="stop"/>
    /// is cancelled; when the outbox is empty it waits for <see cref="Wake"/> or the idle poll interval.
    /// </summary>
    public async Task PumpAsync(IMqttClient client, CancellationToken stop)
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

    /// <inheritdoc />
    public void Dispose() => _work.Dispose();

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
        _reportProblem(refusal);
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
        _reportProblem($"dead-lettered sequence {sequence}: {reason}");
    }

    private static ReadOnlyMemory<byte> Utf8(string value) => Encoding.UTF8.GetBytes(value);

    private sealed class MqttCommunicationLostException(string message) : Exception(message);
}
