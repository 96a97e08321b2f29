namespace EdgeKws.Device.Outbox;

/// <summary>How to open an <see cref="OutboxStore"/>.</summary>
public sealed class OutboxOptions
{
    /// <summary>Default byte quota: 32 MiB, a few days of detections, heartbeats and sketches
    /// plus some clips, small next to any SD card.</summary>
    public const long DefaultQuotaBytes = 32L * 1024 * 1024;

    /// <summary>Smallest quota accepted; below it even one clip would not fit.</summary>
    public const long MinQuotaBytes = 64L * 1024;

    /// <summary>Path of the SQLite database file. Its directory is created if missing.</summary>
    public required string DatabasePath { get; init; }

    /// <summary>Upper bound on the sum of <see cref="OutboxMessage.SizeBytes"/> of stored messages.</summary>
    public long QuotaBytes { get; init; } = DefaultQuotaBytes;

    /// <summary>Per-class overrides of <see cref="OutboxPolicy.DefaultTimeToLive"/>.</summary>
    public IReadOnlyDictionary<OutboxMessageClass, TimeSpan>? TimeToLive { get; init; }

    /// <summary>Clock for created/expiry times; fake it in tests.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Receives rare, important events (corruption recovery). Null: discarded.</summary>
    public Action<string>? Log { get; init; }

    internal TimeSpan TimeToLiveFor(OutboxMessageClass messageClass) =>
        TimeToLive is not null && TimeToLive.TryGetValue(messageClass, out var ttl)
            ? ttl
            : OutboxPolicy.DefaultTimeToLive(messageClass);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath))
            throw new ArgumentException("OutboxOptions.DatabasePath is empty: give the path of the outbox database file.", nameof(DatabasePath));
        if (QuotaBytes < MinQuotaBytes)
            throw new ArgumentOutOfRangeException(nameof(QuotaBytes), QuotaBytes, $"OutboxOptions.QuotaBytes must be at least {MinQuotaBytes} bytes.");
        ArgumentNullException.ThrowIfNull(Clock, nameof(Clock));
        if (TimeToLive is null)
            return;
        foreach (var (cls, ttl) in TimeToLive)
        {
            if (!OutboxPolicy.IsDefined(cls))
                throw new ArgumentException($"OutboxOptions.TimeToLive names {(int)cls}, which is not an outbox message class.", nameof(TimeToLive));
            if (ttl <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(TimeToLive), ttl, $"OutboxOptions.TimeToLive for {cls} must be positive.");
        }
    }
}
