using System.Threading.Channels;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Resilience;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Ingest;

/// <summary>
/// Receivers (one per MQTT connection) validate a message on their own thread and hand it to a bounded
/// channel; a single writer drains the channel in batches of up to <see cref="IngestOptions.MaxBatchSize"/>
/// and commits each batch in one transaction. <see cref="SubmitAsync"/> completes only after the message's
/// transaction committed, so the broker sends the PUBACK after the message is durable: a gateway killed at
/// any moment has acknowledged nothing it has not stored, and the device re-sends the rest.
/// <para>Full queue: the receiver waits (<see cref="GatewayMetricsSnapshot.BackpressureWaits"/> counts it).
/// Waiting stops that connection reading, which pushes back through TCP to the device, whose outbox holds the
/// messages. Nothing is dropped: every message ends stored, recognised as a duplicate, quarantined, or -
/// only when the database itself fails - answered as failed so the publisher is disconnected and re-sends.</para>
/// <para>A batch that fails is retried message by message, so one poison message cannot block the others. A message
/// that still fails is quarantined with the store's error only when the error is the message's own
/// (<see cref="StoreErrors.IsTransient"/> false: a constraint, a value out of range). When the store itself is down
/// (connection lost, database locked, disk full) nothing is quarantined: the message is answered as failed, the broker
/// sends no PUBACK and drops the connection, and the device re-sends it from its outbox later.</para>
/// </summary>
public sealed class IngestPipeline : IAsyncDisposable
{
    // After a batch that failed entirely: 1 s, 2 s, ... up to 30 s (the database refuses everything; no jitter, one writer).
    private static readonly ExponentialBackoff FailedBatchBackoff = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), jitterFraction: 0);
    private readonly IIngestStore _store;
    private readonly IngestOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Channel<WorkItem> _channel;
    private Task? _writer;
    private long _lastBackpressureLogTicks;
    private long _lastStoreLogTicks;

    /// <summary>Creates the pipeline; call <see cref="Start"/> before submitting.</summary>
    public IngestPipeline(IIngestStore store, IngestOptions options, GatewayMetrics metrics, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _store = store;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _channel = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>Starts the writer.</summary>
    public void Start()
    {
        if (_writer is not null)
        {
            throw new InvalidOperationException("the ingest pipeline is already started");
        }
        _writer = Task.Factory.StartNew(WriterLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// Validates and queues <paramref name="envelope"/>; completes once it is committed (stored, duplicate or
    /// quarantined) or failed. Never throws for bad input.
    /// </summary>
    public async ValueTask<IngestResult> SubmitAsync(IngestEnvelope envelope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        Interlocked.Increment(ref _metrics.Received);
        StoreWrite write;
        if (IngestValidator.TryValidate(envelope, _options.MaxMessageBytes, out ValidMessage? message, out RejectionKind rejection, out string reason))
        {
            write = new StoreWrite(envelope, message, RejectionKind.None, string.Empty);
        }
        else
        {
            write = new StoreWrite(envelope, null, rejection, reason);
            if (rejection == RejectionKind.ForeignTopic)
            {
                Interlocked.Increment(ref _metrics.ForeignTopicRefused);
                _logger.LogWarning("refused publish from '{ClientId}' to foreign topic '{Topic}'", envelope.ClientId, IngestValidator.Truncate(envelope.Topic));
            }
        }

        var item = new WorkItem(write);
        Interlocked.Increment(ref _metrics.QueueDepth);
        try
        {
            if (!_channel.Writer.TryWrite(item))
            {
                Interlocked.Increment(ref _metrics.BackpressureWaits);
                LogBackpressure();
                await _channel.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            Interlocked.Decrement(ref _metrics.QueueDepth);
            Interlocked.Increment(ref _metrics.Failed);
            return new IngestResult(IngestOutcome.Failed, rejection, "the gateway is shutting down");
        }
        return await item.Done.Task.ConfigureAwait(false);
    }

    private void LogBackpressure()
    {
        // At most one line a second: a full queue under load would otherwise flood the log.
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastBackpressureLogTicks);
        if (now - last >= 1000 && Interlocked.CompareExchange(ref _lastBackpressureLogTicks, now, last) == last)
        {
            _logger.LogWarning("ingest queue full ({Capacity} messages): receivers wait for the writer (backpressure)", _options.QueueCapacity);
        }
    }

    /// <summary>Stops accepting, commits everything already queued, and stops the writer.</summary>
    public async Task CompleteAsync()
    {
        _channel.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CompleteAsync().ConfigureAwait(false);

    private async Task WriterLoop()
    {
        var batch = new List<WorkItem>(_options.MaxBatchSize);
        var writes = new StoreWrite[_options.MaxBatchSize];
        var results = new IngestResult[_options.MaxBatchSize];
        int consecutiveFailures = 0;
        ChannelReader<WorkItem> reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out WorkItem? item))
            {
                batch.Add(item);
            }
            Interlocked.Add(ref _metrics.QueueDepth, -batch.Count);
            bool allFailed = Commit(batch, writes, results);
            batch.Clear();
            Array.Clear(writes);
            if (allFailed)
            {
                // The database is refusing everything (disk full, I/O error): back off instead of spinning; receivers wait meanwhile.
                consecutiveFailures++;
                await Task.Delay(FailedBatchBackoff.Delay(consecutiveFailures)).ConfigureAwait(false);
            }
            else
            {
                consecutiveFailures = 0;
            }
        }
    }

    /// <returns>True when nothing of the batch could be committed.</returns>
    private bool Commit(List<WorkItem> batch, StoreWrite[] writes, IngestResult[] results)
    {
        int n = batch.Count;
        for (int i = 0; i < n; i++)
        {
            writes[i] = batch[i].Write;
        }
        try
        {
            _store.WriteBatch(writes.AsSpan(0, n), results.AsSpan(0, n));
            Interlocked.Increment(ref _metrics.Batches);
            for (int i = 0; i < n; i++)
            {
                Complete(batch[i], results[i]);
            }
            return false;
        }
#pragma warning disable CA1031 // A failed batch must not stop ingest: retry item by item below.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (!StoreErrors.IsTransient(ex))
            {
                _logger.LogError(ex, "committing a batch of {Count} messages failed; retrying them one by one", n);
            }
        }

        bool allFailed = true;
        Span<IngestResult> one = results.AsSpan(0, 1);
        for (int i = 0; i < n; i++)
        {
            StoreWrite w = writes[i];
            Exception? error = TryWriteOne(w, one);
            if (error is null)
            {
                allFailed = false;
                Complete(batch[i], one[0]);
                continue;
            }
            if (StoreErrors.IsTransient(error))
            {
                // The store is down, not the message bad: no quarantine, no PUBACK; the device re-sends it.
                Interlocked.Increment(ref _metrics.StoreUnavailable);
                LogStoreUnavailable(error);
                Complete(batch[i], new IngestResult(IngestOutcome.Failed, RejectionKind.StoreError, "store unavailable: " + error.Message));
                continue;
            }
            StoreWrite q = w.AsQuarantine(RejectionKind.StoreError, "store error: " + error.Message);
            if (TryWriteOne(q, one) is null)
            {
                allFailed = false;
                Complete(batch[i], one[0]);
                continue;
            }
            Complete(batch[i], new IngestResult(IngestOutcome.Failed, RejectionKind.StoreError, "store error: " + error.Message));
        }
        return allFailed;
    }

    private Exception? TryWriteOne(StoreWrite write, Span<IngestResult> result)
    {
        try
        {
            _store.WriteBatch([write], result);
            Interlocked.Increment(ref _metrics.Batches);
            return null;
        }
#pragma warning disable CA1031 // The error becomes the quarantine reason or the failure result.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (!StoreErrors.IsTransient(ex))
            {
                _logger.LogError(ex, "storing a message on '{Topic}' failed", IngestValidator.Truncate(write.Envelope.Topic));
            }
            return ex;
        }
    }

    private void LogStoreUnavailable(Exception error)
    {
        // At most one line a second: an outage fails every message of every device.
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastStoreLogTicks);
        if (now - last >= 1000 && Interlocked.CompareExchange(ref _lastStoreLogTicks, now, last) == last)
        {
            _logger.LogWarning("the store is unavailable ({Error}): messages are not acknowledged and devices re-send them; nothing is quarantined", error.Message);
        }
    }

    private void Complete(WorkItem item, IngestResult result)
    {
        switch (result.Outcome)
        {
            case IngestOutcome.Stored: Interlocked.Increment(ref _metrics.Stored); break;
            case IngestOutcome.Duplicate: Interlocked.Increment(ref _metrics.Duplicates); break;
            case IngestOutcome.Quarantined: Interlocked.Increment(ref _metrics.Quarantined); break;
            default: Interlocked.Increment(ref _metrics.Failed); break;
        }
        item.Done.TrySetResult(result);
    }

    private sealed class WorkItem(StoreWrite write)
    {
        public StoreWrite Write { get; } = write;

        // Continuations run on the thread pool, never inline on the writer (a receiver's PUBACK must not delay the next batch).
        public TaskCompletionSource<IngestResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
