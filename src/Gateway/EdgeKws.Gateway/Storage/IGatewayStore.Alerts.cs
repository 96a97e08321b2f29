namespace EdgeKws.Gateway.Storage;

/// <summary>Alert severity.</summary>
public enum AlertSeverity
{
    /// <summary>Look at it today.</summary>
    Warning = 1,

    /// <summary>Act now.</summary>
    Critical = 2,
}

/// <summary>A condition that holds now. <see cref="Key"/> identifies it across evaluations (deduplication).</summary>
/// <param name="Key">Stable identity, e.g. "no-data/device/dev-1".</param>
/// <param name="Kind">Rule name ("no-data", "fa-budget", "drift", "error-rate", "throughput").</param>
/// <param name="Severity">Severity.</param>
/// <param name="Subject">Where: "device:dev-1", "model:kws-1.0.0", "fleet".</param>
/// <param name="Message">What, with the numbers.</param>
/// <param name="EvidenceUrl">API URL (path and query) showing the evidence.</param>
/// <param name="SinceUtc">When the condition began, if known (else the time it was first seen).</param>
public sealed record AlertCondition(string Key, string Kind, AlertSeverity Severity, string Subject, string Message, string EvidenceUrl, DateTimeOffset? SinceUtc);

/// <summary>A stored alert.</summary>
/// <param name="Id">Row id.</param>
/// <param name="Key">Deduplication key.</param>
/// <param name="Kind">Rule.</param>
/// <param name="Severity">Severity (the latest evaluation's).</param>
/// <param name="Subject">Where.</param>
/// <param name="Message">What (the latest evaluation's).</param>
/// <param name="EvidenceUrl">Evidence.</param>
/// <param name="SinceUtc">Since when the condition holds.</param>
/// <param name="LastEvaluatedUtc">Last evaluation that found it.</param>
/// <param name="ResolvedUtc">When it cleared, or null while active.</param>
public sealed record AlertRecord(long Id, string Key, string Kind, AlertSeverity Severity, string Subject, string Message, string EvidenceUrl,
    DateTimeOffset SinceUtc, DateTimeOffset LastEvaluatedUtc, DateTimeOffset? ResolvedUtc)
{
    /// <summary>Active until resolved.</summary>
    public bool IsActive => ResolvedUtc is null;
}

/// <summary>The alert concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IAlertStore
{
}

/// <summary>Alerts, deduplicated by key while active (schema step 2: the <c>alerts</c> table). One implementation over both databases
/// (<see cref="AlertStore"/>).</summary>
public interface IAlertStore
{
    /// <summary>
    /// Applies one evaluation of the alert rules atomically: a firing condition with no active alert of its key opens
    /// one; one with an active alert updates its message and severity (deduplication); an active alert whose key is not
    /// firing is resolved at <paramref name="nowUtc"/>.
    /// </summary>
    void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc);

    /// <summary>Alerts, newest first (active only, or all).</summary>
    IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit);
}
