namespace EdgeKws.Device.Outbox;

/// <summary>How to open an <see cref="OutboxStore"/>.</summary>
public sealed class OutboxOptions
{
    /// <summary>Default quota: 32 MiB of disk, of which about 14 MiB hold messages (a few days of detections,
    /// heartbeats and sketches plus some clips); small next to any SD card.</summary>
    public const long DefaultQuotaBytes = 32L * 1024 * 1024;

    /// <summary>Smallest quota accepted: 256 KiB of disk leave the database 128 KiB (48 KiB of messages, see
    /// <see cref="OutboxBudget"/>).</summary>
    public const long MinQuotaBytes = 256L * 1024;

    /// <summary>Path of the SQLite database file. Its directory is created if missing.</summary>
    public required string DatabasePath { get; init; }

    /// <summary>Upper bound on the bytes the outbox occupies on disk: database, write-ahead log and reserve file
    /// together (<see cref="OutboxBudget"/> shows how it is split).</summary>
    public long QuotaBytes { get; init; } = DefaultQuotaBytes;

    /// <summary>Per-class overrides of <see cref="OutboxPolicy.DefaultTimeToLive"/>.</summary>
    public IReadOnlyDictionary<OutboxMessageClass, TimeSpan>? TimeToLive { get; init; }

    /// <summary>Clock for created/expiry times; fake it in tests.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Receives rare, important events: corruption recovery, the disk becoming full and space coming back,
    /// write failures (at most one line per kind of failure until the next success). Null: discarded.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Tests only: another data quota than the budget's. Smaller, so the eviction policy can be exercised byte
    /// by byte with messages large relative to it (the real budget keeps every message under a sixteenth of the quota);
    /// larger, so only the database's page cap holds the files.</summary>
    internal long? DataQuotaBytesOverride { get; init; }

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
        if (!OutboxBudget.TryCompute(QuotaBytes, OutboxStore.DefaultPageSizeBytes, out _, out string why))
            throw new ArgumentOutOfRangeException(nameof(QuotaBytes), QuotaBytes, "OutboxOptions.QuotaBytes: " + why);
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
