using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Training;

/// <summary>The decided labels newer than the last model: what the policy judges.</summary>
/// <param name="SinceUtc">Labels after this time count (the last FineTune job's submission, else the production model's registration).</param>
/// <param name="Since">What <paramref name="SinceUtc"/> is ("production 1.0.0 registered", "fine-tune job 2026...").</param>
/// <param name="Count">Decided labels (TrueAccept/FalseAccept, triggers and near misses with a stored clip) labelled after it.</param>
/// <param name="OldestUtc">When the oldest of them was labelled, or null when there is none.</param>
public sealed record LabelBacklog(DateTimeOffset SinceUtc, string Since, int Count, DateTimeOffset? OldestUtc)
{
    /// <summary>Counts the store's decided field clips labelled after <paramref name="sinceUtc"/> (the field export's own reader).</summary>
    public static LabelBacklog Read(IGatewayStore store, DateTimeOffset sinceUtc, string since)
    {
        ArgumentNullException.ThrowIfNull(store);
        const int Page = 256;
        int count = 0;
        DateTimeOffset? oldest = null;
        string device = string.Empty;
        long sequence = long.MinValue;
        while (true)
        {
            IReadOnlyList<FieldClip> page = store.ReadFieldClips(device, sequence, Page);
            foreach (FieldClip c in page)
            {
                if (c.LabeledUtc > sinceUtc)
                {
                    count++;
                    oldest = oldest is { } o && o <= c.LabeledUtc ? o : c.LabeledUtc;
                }
            }
            if (page.Count < Page) return new LabelBacklog(sinceUtc, since, count, oldest);
            (device, sequence) = (page[^1].DeviceId, page[^1].Sequence);
        }
    }
}

/// <summary>A policy decision.</summary>
/// <param name="Start">Start a fine-tune now.</param>
/// <param name="Reason">Why (the threshold crossed, or what is missing).</param>
/// <param name="AtUtc">When decided.</param>
/// <param name="NewClips">Decided labels newer than the last model.</param>
/// <param name="OldestAge">Age of the oldest of them, or null.</param>
public sealed record AutoFineTuneDecision(bool Start, string Reason, DateTimeOffset AtUtc, int NewClips, TimeSpan? OldestAge);

/// <summary>
/// When to fine-tune (one reason to change: the threshold rule). Start exactly when at least <see cref="AutoFineTuneOptions.MinNewLabelledClips"/>
/// decided labels are newer than the last model and the oldest of them is at least <see cref="AutoFineTuneOptions.MinOldestAge"/> old,
/// there is a production model to start from, and no model job is queued or running; otherwise Wait, saying for what.
/// </summary>
public static class AutoFineTunePolicy
{
    /// <summary>Decides Start or Wait.</summary>
    /// <param name="options">The thresholds.</param>
    /// <param name="backlog">Labels since the last model (null: no production model).</param>
    /// <param name="activeJob">Id of a queued or running model job, or null.</param>
    /// <param name="now">Now.</param>
    public static AutoFineTuneDecision Decide(AutoFineTuneOptions options, LabelBacklog? backlog, string? activeJob, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (backlog is null)
        {
            return new AutoFineTuneDecision(false, "wait: no production model to fine-tune (bootstrap one first)", now, 0, null);
        }
        TimeSpan? age = backlog.OldestUtc is { } o ? now - o : null;
        string counts = string.Create(CultureInfo.InvariantCulture,
            $"{backlog.Count} decided labels since {backlog.Since} (need {options.MinNewLabelledClips}), oldest {(age is { } a ? Hours(a) : "-")} old (need {Hours(options.MinOldestAge)})");
        if (activeJob is not null)
        {
            return new AutoFineTuneDecision(false, $"wait: model job {activeJob} is queued or running; {counts}", now, backlog.Count, age);
        }
        if (backlog.Count < options.MinNewLabelledClips)
        {
            return new AutoFineTuneDecision(false, $"wait: too few new labels: {counts}", now, backlog.Count, age);
        }
        if (age is not { } oldestAge || oldestAge < options.MinOldestAge)
        {
            return new AutoFineTuneDecision(false, $"wait: the new labels are too recent: {counts}", now, backlog.Count, age);
        }
        return new AutoFineTuneDecision(true, $"start: {counts}", now, backlog.Count, age);
    }

    private static string Hours(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:0.##} h");
}
