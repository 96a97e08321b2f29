namespace EdgeKws.Device.Tests.Testing;

/// <summary>
/// A clock that moves only when told (<see cref="Advance"/>), with timers that fire when the
/// clock passes their due time, in due order, synchronously on the advancing thread.
/// With <see cref="AutoAdvance"/>, arming a timer moves the clock to its due time at once:
/// code that "waits" on this clock then runs without real waiting, and the clock shows how long
/// it would have waited.
/// </summary>
/// <remarks>Advancing and firing allocate nothing, so code under a zero-allocation test may use it.</remarks>
internal sealed class ManualTimeProvider : TimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Lock _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private long _ticks;

    /// <summary>When true, arming a timer advances the clock to its due time immediately.</summary>
    public bool AutoAdvance { get; set; }

    /// <summary>Time since this clock was created.</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(Volatile.Read(ref _ticks));

    /// <summary>Timers armed so far (each <see cref="ITimer.Change"/> to a finite due time counts).</summary>
    public int TimerArmCount { get; private set; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Volatile.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => Epoch + Elapsed;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_lock)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock forward, firing every timer that falls due on the way at its own due time.</summary>
    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        long target = Volatile.Read(ref _ticks) + by.Ticks;
        while (true)
        {
            ManualTimer? next = null;
            lock (_lock)
            {
                for (int i = 0; i < _timers.Count; i++)
                {
                    var t = _timers[i];
                    if (t.DueAt >= 0 && t.DueAt <= target && (next is null || t.DueAt < next.DueAt))
                    {
                        next = t;
                    }
                }

                if (next is null)
                {
                    Volatile.Write(ref _ticks, Math.Max(target, _ticks));
                    return;
                }

                Volatile.Write(ref _ticks, Math.Max(next.DueAt, _ticks));
                next.DueAt = next.PeriodTicks > 0 ? next.DueAt + next.PeriodTicks : -1;
            }

            next.Fire();
        }
    }

    /// <summary>Advances in steps of <paramref name="step"/> for <paramref name="total"/>, calling <paramref name="afterEachStep"/> after each.</summary>
    public void Step(TimeSpan total, TimeSpan step, Action afterEachStep)
    {
        for (var done = TimeSpan.Zero; done < total; done += step)
        {
            Advance(step);
            afterEachStep();
        }
    }

    private void Arm(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        bool fireNow = false;
        TimeSpan autoAdvanceBy = TimeSpan.Zero;
        lock (_lock)
        {
            timer.PeriodTicks = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                timer.DueAt = -1;
                return;
            }

            TimerArmCount++;
            timer.DueAt = _ticks + dueTime.Ticks;
            if (dueTime == TimeSpan.Zero)
            {
                fireNow = true;
                timer.DueAt = timer.PeriodTicks > 0 ? _ticks + timer.PeriodTicks : -1;
            }
            else if (AutoAdvance)
            {
                autoAdvanceBy = dueTime;
            }
        }

        if (fireNow)
        {
            timer.Fire();
        }
        else if (autoAdvanceBy > TimeSpan.Zero)
        {
            Advance(autoAdvanceBy);
        }
    }

    private void Remove(ManualTimer timer)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long DueAt = -1;
        public long PeriodTicks;
        private bool _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (_disposed)
            {
                return false;
            }

            owner.Arm(this, dueTime, period);
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            _disposed = true;
            owner.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
