using System.Collections.Concurrent;
using EdgeKws.Detection;
using EdgeKws.Device.Listening;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Agent;

/// <summary>
/// The model-update downlink: commands from the MQTT client are queued here and run on one worker
/// thread (never the audio thread, never the MQTT receive task): offer and chunks go to the
/// <see cref="ModelUpdateReceiver"/>, a completed transfer to <see cref="ModelSlots.TryInstall"/>, a
/// rollback to <see cref="ModelSlots.Rollback"/>. After a successful install or rollback the pipeline's
/// detector is swapped for one built from the new active slot's model. Every outcome (activated,
/// refused with its reason, rolled back, transfer timed out) goes into the outbox as a
/// <see cref="ModelStatus"/>.
/// <para>A status names what the pipeline runs, never only what the slot pointer says: when the pipeline cannot get a
/// detector of the new model (the slots' own health-checked detector exists, but a second ONNX Runtime session for the
/// audio thread fails), the slot pointer is switched back and the outcome is reported as
/// <c>detector-build-failed</c> (result Failed) with the old model active. Should that switch back fail too, the status
/// still names the running model and slot, and the log says the pointer disagrees.</para>
/// </summary>
internal sealed class ModelUpdateWorker : IDisposable
{
    /// <summary>Queued commands. 1,024 covers a whole transfer of the 64 KB budget in chunks down to 64 bytes.</summary>
    private const int QueueCapacity = 1024;

    private static readonly TimeSpan SwapTimeout = TimeSpan.FromSeconds(10);

    private readonly ModelSlots _slots;
    private readonly ModelUpdateReceiver _receiver;
    private readonly ListeningPipeline _pipeline;
    private readonly OutboxStore _outbox;
    private readonly string _deviceId;
    private readonly string _statusTopic;
    private readonly Action _notifyEnqueued;
    private readonly IAgentStatusSink? _sink;
    private readonly Action<string> _log;
    private readonly BlockingCollection<(string Command, byte[] Payload)> _queue = new(new ConcurrentQueue<(string, byte[])>(), QueueCapacity);
    private readonly Thread _thread;
    private readonly Func<KeywordModel, (KeywordDetector? Detector, string Why)> _buildDetector;
    private long _dropped;
    private string? _lastChunkRefusal;

    // What the listening pipeline runs: the slot and model its detector was built from.
    private ModelSlot? _runningSlot;
    private string? _runningVersion;

    /// <param name="buildDetector">Builds the pipeline's detector for a model; null: <see cref="KeywordDetector.TryCreate"/>
    /// (tests pass one that fails, as ONNX Runtime can on a device short of memory).</param>
    public ModelUpdateWorker(ModelSlots slots, ListeningPipeline pipeline, OutboxStore outbox, string deviceId,
        Action notifyEnqueued, IAgentStatusSink? sink, Action<string> log,
        Func<KeywordModel, (KeywordDetector? Detector, string Why)>? buildDetector = null)
    {
        _slots = slots;
        _buildDetector = buildDetector ?? (model => KeywordDetector.TryCreate(model, null, out KeywordDetector? d, out string why) ? (d, why) : (null, why));
        _runningSlot = slots.ActiveSlot;
        _runningVersion = pipeline.Detector.ModelVersion;
        _receiver = new ModelUpdateReceiver(slots);
        _pipeline = pipeline;
        _outbox = outbox;
        _deviceId = deviceId;
        _statusTopic = Topics.Uplink(deviceId, MessageKind.ModelStatus);
        _notifyEnqueued = notifyEnqueued;
        _sink = sink;
        _log = log;
        _thread = new Thread(Loop) { IsBackground = true, Name = "edgekws-model-updates" };
    }

    /// <summary>Commands dropped because the queue stayed full (the gateway's transfer then times out and is offered again).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Start() => _thread.Start();

    /// <summary>
    /// Queues one command (called on the MQTT client's receive task). Waits up to 5 s when the queue is
    /// full, which holds back the PUBACK and so the broker's flow; then drops and counts.
    /// </summary>
    public void Post(string command, byte[] payload)
    {
        try
        {
            if (_queue.TryAdd((command, payload), TimeSpan.FromSeconds(5))) return;
        }
        catch (InvalidOperationException)
        {
            return; // shutting down
        }
        Interlocked.Increment(ref _dropped);
        _log($"model update: command '{command}' dropped, the worker's queue is full");
    }

    /// <summary>Reports the current model (update result None); the agent calls it once at start.</summary>
    public void ReportCurrent() => Report(null);

    private void Loop()
    {
        while (!_queue.IsCompleted)
        {
            try
            {
                if (_queue.TryTake(out var item, TimeSpan.FromSeconds(1)))
                {
                    Handle(item.Command, item.Payload);
                }
            }
            catch (InvalidOperationException) when (_queue.IsCompleted)
            {
                break;
            }
            if (_receiver.TryExpire(out ModelUpdateOutcome? expired))
            {
                Report(expired!);
            }
        }
    }

    private void Handle(string command, byte[] payload)
    {
        switch (command)
        {
            case ModelTransfer.OfferCommand:
                if (_receiver.TryAcceptOffer(payload, out ModelUpdateOutcome? rejected))
                {
                    _log($"model update: offer accepted, transfer {_receiver.TransferId}, model {_receiver.TargetModelVersion}, {_receiver.ChunkCount} chunk(s)");
                }
                else
                {
                    Report(rejected!);
                }
                break;
            case ModelTransfer.ChunkCommand:
                ChunkOutcome chunk = _receiver.AcceptChunk(payload, out ModelUpdate? update, out string reason);
                if (chunk == ChunkOutcome.Completed)
                {
                    Install(update!);
                }
                else if (chunk == ChunkOutcome.Rejected && reason != _lastChunkRefusal)
                {
                    // Once per distinct reason: the chunks of a refused offer all fail the same way.
                    _lastChunkRefusal = reason;
                    _log($"model update: chunk refused: {reason}");
                }
                break;
            case ModelTransfer.RollbackCommand:
                _sink?.OnStatus(AgentStatus.Updating);
                ModelUpdateOutcome rolled = _slots.Rollback();
                if (rolled.Succeeded && !TrySwapToActive(out string why))
                {
                    rolled = SwitchBack(rolled.TargetModelVersion, why);
                }
                _sink?.OnStatus(AgentStatus.Listening);
                Report(rolled);
                break;
            default:
                _log($"command '{command}' ignored: not a command this agent knows");
                break;
        }
    }

    private void Install(ModelUpdate update)
    {
        _sink?.OnStatus(AgentStatus.Updating);
        ModelUpdateOutcome outcome = _slots.TryInstall(update);
        if (outcome.Succeeded && !TrySwapToActive(out string why))
        {
            outcome = SwitchBack(outcome.TargetModelVersion, why);
        }
        _sink?.OnStatus(AgentStatus.Listening);
        Report(outcome);
    }

    /// <summary>
    /// The slots switched but the pipeline could not follow: switch the slot pointer back to the slot of the model that
    /// runs (a rollback of the slots, which re-verifies it), and report the update as failed, naming why.
    /// </summary>
    private ModelUpdateOutcome SwitchBack(string? target, string why)
    {
        string detail = $"the pipeline could not build a detector of {target ?? "the new model"} ({why}); it keeps running {_runningVersion}";
        ModelUpdateOutcome back = _slots.Rollback();
        detail += back.Succeeded && _slots.ActiveSlot == _runningSlot
            ? $", slot {_runningSlot} is active again"
            : $"; switching the slot pointer back failed ({back.Reason}), it names slot {_slots.ActiveSlot} ({_slots.ActiveModelVersion})";
        if (!back.Succeeded || _slots.ActiveSlot != _runningSlot)
        {
            _log($"model update: the slot pointer (slot {_slots.ActiveSlot}, {_slots.ActiveModelVersion}) disagrees with what runs (slot {_runningSlot}, {_runningVersion})");
        }
        return new ModelUpdateOutcome(ModelUpdateFailure.DetectorBuildFailed, ModelUpdateOutcome.Code(ModelUpdateFailure.DetectorBuildFailed) + ": " + detail, target);
    }

    /// <summary>
    /// The slots run their own detector (the health check and rollback need it); the pipeline gets a
    /// fresh detector of the same model, so the audio thread never shares a detector with this thread.
    /// False (with the reason) when that detector cannot be built: the pipeline then keeps its detector.
    /// </summary>
    private bool TrySwapToActive(out string why)
    {
        if (_slots.ActiveModel is not { } model)
        {
            why = "no model is active";
            return false;
        }
        (KeywordDetector? next, why) = _buildDetector(model);
        if (next is null)
        {
            _log($"model update: the new slot is active but the pipeline's detector could not be built ({why}); the old detector keeps running");
            return false;
        }
        _runningSlot = _slots.ActiveSlot;
        _runningVersion = next.ModelVersion;
        Task<KeywordDetector> swap = _pipeline.SwapDetectorAsync(next);
        if (swap.Wait(SwapTimeout))
        {
            swap.Result.Dispose();
        }
        else
        {
            // The audio source is blocked in a read (stdin without data): the swap happens at the next block.
            _ = swap.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            _log("model update: the audio loop has not taken the new detector yet; it will at its next block");
        }
        return true;
    }

    private void Report(ModelUpdateOutcome? outcome)
    {
        string what = outcome is null ? "current" : outcome.Succeeded ? (outcome.RolledBack ? "rolled back" : "activated")
            : outcome.Failure == ModelUpdateFailure.DetectorBuildFailed ? "failed" : "refused";
        string detail = outcome is null || outcome.Reason.Length == 0 ? "" : ": " + outcome.Reason;
        _log($"model status: {what}, active {_runningSlot?.ToString() ?? "-"} {_runningVersion ?? "-"}" +
            (outcome?.TargetModelVersion is { } target ? $", target {target}" : "") + detail);
        if (_runningSlot is not { } slot || _runningVersion is not { } version)
        {
            _log("model status not sent: no slot is active");
            return;
        }
        // What runs, which after a failed swap is not what the slot pointer may say.
        ModelStatus status = outcome?.ToModelStatus(_deviceId, DateTimeOffset.UtcNow, slot, version) ?? new ModelStatus
        {
            DeviceId = _deviceId,
            DeviceTimeUtc = DateTimeOffset.UtcNow,
            ActiveSlot = slot,
            ActiveModelVersion = ModelUpdateOutcome.WireVersionOf(version),
            UpdateResult = ModelUpdateResult.None,
        };
        try
        {
            EnqueueResult r = _outbox.Enqueue(OutboxMessageClass.ModelStatus, _statusTopic, WireJson.Serialize(status));
            if (!r.IsAccepted) _log($"model status refused by the outbox ({r.Status})");
        }
#pragma warning disable CA1031 // Disk full or I/O errors: the outcome is logged above; updates go on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _log($"model status not stored: {ex.Message}");
        }
        _notifyEnqueued();
    }

    /// <summary>Stops taking commands, finishes the one in hand, abandons a transfer in progress.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        if (_thread.IsAlive) _thread.Join();
        _receiver.Dispose();
        _queue.Dispose();
    }
}
