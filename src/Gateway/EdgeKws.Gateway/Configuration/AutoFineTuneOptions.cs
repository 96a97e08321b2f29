using System.Globalization;

namespace EdgeKws.Gateway.Configuration;

/// <summary>
/// The loop that runs by itself (<c>Gateway:Models:AutoFineTune</c>): when enough newly labelled device clips have arrived since the
/// last model, export the field dataset (time split) and submit a FineTune job (<see cref="Training.AutoFineTuneLoop"/>). Off by default.
/// See docs/model-updates.md ("The automatic fine-tune policy").
/// </summary>
public sealed class AutoFineTuneOptions
{
    /// <summary>Run the policy in this instance (with several gateway instances on PostgreSQL, enable it on one).</summary>
    public bool Enabled { get; set; }

    /// <summary>How often the policy looks at the store.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Start when at least this many decided labels (TrueAccept/FalseAccept, triggers and near misses) are newer than the last model.</summary>
    public int MinNewLabelledClips { get; set; } = 200;

    /// <summary>... and the oldest of them is at least this old (labels settle: re-reviews, a device's later slice). Zero: count only.</summary>
    public TimeSpan MinOldestAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>The wake phrase written into the exported field dataset (its keyword class).</summary>
    public string Keyword { get; set; } = "hey edge";

    /// <summary>The job's evaluation streams, named under <c>Gateway:Models:EvaluationSetDirectory</c> (required when enabled).</summary>
    public string? EvaluationSet { get; set; }

    /// <summary>Streams the candidate's threshold is matched on (not <see cref="EvaluationSet"/>), named under
    /// <c>Gateway:Models:EvaluationSetDirectory</c> (null: the candidate keeps the parent's threshold).</summary>
    public string? OperatingPointSet { get; set; }

    /// <summary>The base dataset replayed against forgetting, named under <c>Gateway:Models:ImportDirectory</c> (null: no replay).</summary>
    public string? ReplayDataset { get; set; }

    /// <summary>Fine-tune epochs (null: the trainer's default).</summary>
    public int? Epochs { get; set; }

    /// <summary>The trainer's tiny configuration (tests and smoke runs).</summary>
    public bool Tiny { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        const string P = "Gateway:Models:AutoFineTune:";
        if (PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{P}PollInterval must be positive");
        }
        if (MinNewLabelledClips < 1)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{P}MinNewLabelledClips must be at least 1, got {MinNewLabelledClips}"));
        }
        if (MinOldestAge < TimeSpan.Zero)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{P}MinOldestAge must not be negative, got {MinOldestAge}"));
        }
        if (Epochs is < 1 or > Training.ModelJobRequest.MaxEpochs)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{P}Epochs must be in 1..{Training.ModelJobRequest.MaxEpochs}, got {Epochs}"));
        }
        if (string.IsNullOrWhiteSpace(Keyword) || Keyword.Length > Shared.Contracts.WireLimits.MaxTextLength)
        {
            throw new ArgumentException($"{P}Keyword must be 1..{Shared.Contracts.WireLimits.MaxTextLength} characters");
        }
        if (Enabled && string.IsNullOrWhiteSpace(EvaluationSet))
        {
            throw new ArgumentException($"{P}EvaluationSet is required when {P}Enabled is true (an evaluation set named under Gateway:Models:EvaluationSetDirectory)");
        }
        if (OperatingPointSet is not null && string.Equals(OperatingPointSet, EvaluationSet, StringComparison.Ordinal))
        {
            throw new ArgumentException($"{P}OperatingPointSet must not be {P}EvaluationSet: the gate would judge the candidate on the streams its threshold was chosen on");
        }
        if (ReplayDataset is not null && string.IsNullOrWhiteSpace(ReplayDataset))
        {
            throw new ArgumentException($"{P}ReplayDataset must be a dataset named under Gateway:Models:ImportDirectory, or absent");
        }
    }
}
