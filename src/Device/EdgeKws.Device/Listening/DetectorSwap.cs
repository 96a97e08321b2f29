using System.Diagnostics.CodeAnalysis;
using EdgeKws.Detection;

namespace EdgeKws.Device.Listening;

/// <summary>
/// The hand-over of a new detector from any thread to the audio thread (the model-slot hook), and whether the
/// pipeline is running. While it runs, a request waits here until the audio thread takes it between two blocks;
/// while it does not, the request is installed at once, under the same lock that starts a run, so a swap never
/// races the first block.
/// </summary>
internal sealed class DetectorSwap
{
    private readonly Lock _gate = new();
    private KeywordDetector? _next;
    private TaskCompletionSource<KeywordDetector>? _done;
    private volatile bool _requested;
    private bool _running;

    /// <summary>A swap waits for the audio thread (checked once per block: a volatile read).</summary>
    public bool Requested => _requested;

    /// <summary>Between <see cref="BeginRun"/> and <see cref="EndRun"/>.</summary>
    public bool Running => _running;

    /// <summary>Marks the pipeline running; throws when it already is.</summary>
    public void BeginRun()
    {
        lock (_gate)
        {
            if (_running) throw new InvalidOperationException("the pipeline is already running");
            _running = true;
        }
    }

    /// <summary>Marks the pipeline stopped: later requests are installed at once.</summary>
    public void EndRun()
    {
        lock (_gate)
        {
            _running = false;
        }
    }

    /// <summary>
    /// Queues <paramref name="next"/> for the audio thread, or, when the pipeline is not running, calls
    /// <paramref name="installNow"/> (which returns the previous detector) under the lock. The task completes with the
    /// previous detector. Throws <see cref="InvalidOperationException"/> when a swap is already pending.
    /// </summary>
    public Task<KeywordDetector> Request(KeywordDetector next, Func<KeywordDetector, KeywordDetector> installNow)
    {
        var done = new TaskCompletionSource<KeywordDetector>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_next is not null)
            {
                throw new InvalidOperationException("a detector swap is already pending");
            }
            if (!_running)
            {
                done.SetResult(installNow(next));
                return done.Task;
            }
            _next = next;
            _done = done;
            _requested = true;
        }
        return done.Task;
    }

    /// <summary>Audio thread: takes the pending request, if any (the caller completes <paramref name="done"/> with the old detector).</summary>
    public bool TryTake([NotNullWhen(true)] out KeywordDetector? next, [NotNullWhen(true)] out TaskCompletionSource<KeywordDetector>? done)
    {
        lock (_gate)
        {
            if (_next is null || _done is null)
            {
                _requested = false;
                next = null;
                done = null;
                return false;
            }
            next = _next;
            done = _done;
            _next = null;
            _done = null;
            _requested = false;
            return true;
        }
    }
}
