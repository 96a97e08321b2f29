namespace EdgeKws.Shared.Resilience;

/// <summary>Source of uniform random numbers in [0, 1) for backoff jitter; injectable so tests can fix the schedule.</summary>
public interface IJitterSource
{
    /// <summary>A number in [0, 1).</summary>
    double NextUnit();
}

/// <summary>Jitter from <see cref="Random.Shared"/> (thread-safe).</summary>
public sealed class RandomJitterSource : IJitterSource
{
    /// <summary>The shared instance.</summary>
    public static readonly RandomJitterSource Instance = new();

    /// <inheritdoc />
    public double NextUnit() => Random.Shared.NextDouble();
}

/// <summary>
/// The one retry delay schedule of the solution (the device's reconnects and refused publishes, the gateway's external
/// broker reconnects and its ingest writer's pause after a failed batch): exponential backoff with optional jitter.
/// Attempt n waits nominal(n) = min(initial x 2^n, max), shortened by up to <c>jitterFraction</c> of itself, i.e. a
/// delay in (nominal x (1 - jitterFraction), nominal]. Jitter only ever shortens the delay so the cap holds, and it
/// spreads out a fleet that lost the same broker at the same moment; 0 gives the plain doubling schedule.
/// The goal of this class is to avoid any heap allocation after construction: <see cref="Delay"/> computes from the
/// attempt number alone (no state per attempt), so one instance serves a loop for the life of the process and the
/// NativeAOT agent pays nothing per retry.
/// </summary>
public sealed class ExponentialBackoff
{
    private readonly IJitterSource _jitter;

    /// <summary>Creates a schedule; throws with the offending value when the parameters make no sense.</summary>
    /// <param name="initial">Delay of attempt 0 (positive).</param>
    /// <param name="max">Cap of the nominal delay (at least <paramref name="initial"/>).</param>
    /// <param name="jitterFraction">Largest fraction of the nominal delay removed at random, in [0, 1).</param>
    /// <param name="jitter">Random source; null for <see cref="RandomJitterSource.Instance"/>.</param>
    public ExponentialBackoff(TimeSpan initial, TimeSpan max, double jitterFraction, IJitterSource? jitter = null)
    {
        if (initial <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(initial), initial, "initial backoff must be positive");
        }
        if (max < initial)
        {
            throw new ArgumentOutOfRangeException(nameof(max), max, $"maximum backoff must be >= initial backoff ({initial})");
        }
        if (!(jitterFraction is >= 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(jitterFraction), jitterFraction, "jitter fraction must be in [0, 1)");
        }
        Initial = initial;
        Max = max;
        JitterFraction = jitterFraction;
        _jitter = jitter ?? RandomJitterSource.Instance;
    }

    /// <summary>Delay before the first retry.</summary>
    public TimeSpan Initial { get; }

    /// <summary>Cap of the nominal delay.</summary>
    public TimeSpan Max { get; }

    /// <summary>Largest fraction of the nominal delay jitter may remove.</summary>
    public double JitterFraction { get; }

    /// <summary>The un-jittered delay of retry <paramref name="attempt"/> (0-based).</summary>
    public TimeSpan Nominal(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        // 2^30 x 1 ms already exceeds any sane cap; clamping the exponent avoids overflow.
        double ticks = Initial.Ticks * Math.Pow(2, Math.Min(attempt, 30));
        return ticks >= Max.Ticks ? Max : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The jittered delay of retry <paramref name="attempt"/> (0-based); exactly <see cref="Nominal"/> without jitter.</summary>
    public TimeSpan Delay(int attempt)
    {
        TimeSpan nominal = Nominal(attempt);
        if (JitterFraction == 0)
        {
            return nominal;
        }
        double u = _jitter.NextUnit();
        if (!(u is >= 0 and < 1))
        {
            throw new InvalidOperationException($"jitter source returned {u}, outside [0, 1)");
        }
        return TimeSpan.FromTicks((long)(nominal.Ticks * (1 - (JitterFraction * u))));
    }
}
