namespace EdgeKws.MainJob;

/// <summary>What the main job ran and measured; written as summary.json and rendered as summary.md.</summary>
internal sealed class MainJobSummary
{
    public string StartedUtc { get; set; } = "";
    public bool Succeeded { get; set; }
    public string? Failure { get; set; }
    public double WallSeconds { get; set; }
    public string Machine { get; set; } = "";
    public int Devices { get; set; }
    public double HoursPerDevice { get; set; }
    public double AudioHours { get; set; }
    public string ModelVersion { get; set; } = "";
    public string ModelManifest { get; set; } = "";
    public List<DeviceRun> DeviceRuns { get; set; } = [];
    public long MessagesSentByAgents { get; set; }
    public long GatewayMessages { get; set; }
    public long GatewayQuarantined { get; set; }
    public long Detections { get; set; }
    public long ClipsWithAudio { get; set; }
    public LabelFigures Labels { get; set; } = new();
    public List<FaRow> FaPerHour { get; set; } = [];
    public List<DriftRow> Drift { get; set; } = [];
    /// <summary>The model stage after day 1: the candidate the loop made from the first day's audio.</summary>
    public ModelPush ModelPush { get; set; } = new();
    /// <summary>How the model stage makes the model it pushes (<c>--model-stage</c>).</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ModelStageKind>))]
    public ModelStageKind ModelStage { get; set; }
    /// <summary>Days of the run (<c>--days</c>).</summary>
    public int Days { get; set; } = 1;
    /// <summary>Days 2..N: the audio, what the agents ran and detected, and the gateway's labels of that day.</summary>
    public List<DayRun> LaterDays { get; set; } = [];
    /// <summary>Model stages after days 2..N-1 (runs of three days or more).</summary>
    public List<ModelPush> LaterModelPushes { get; set; } = [];
    /// <summary>Production and the loop's model on the last day's audio (null on a one-day run).</summary>
    public LoopReport? Loop { get; set; }
    public string DashboardUrl { get; set; } = "";
    /// <summary>The file holding the run's operator API token (0600): the dashboard's login and any API call take it.</summary>
    public string TokenFile { get; set; } = "";
    public bool GatewayKeptRunning { get; set; }
    public string OutputDirectory { get; set; } = "";
    public string GatewayDatabase { get; set; } = "";
    public List<ChildRecord> Processes { get; set; } = [];
    public List<StageTiming> Stages { get; set; } = [];
}

internal sealed class DeviceRun
{
    public string DeviceId { get; set; } = "";
    public string Speaker { get; set; } = "";
    public string Room { get; set; } = "";
    public double AudioSeconds { get; set; }
    public int KeywordsInAudio { get; set; }
    public Dictionary<string, int> NegativeSegments { get; set; } = [];
    public int ExitCode { get; set; }
    public Dictionary<string, string> AgentSummary { get; set; } = [];
}

internal sealed class LabelFigures
{
    /// <summary>Who labelled (the gateway's labeling worker).</summary>
    public string Labeler { get; set; } = "";
    public long ClipsAligned { get; set; }
    public long TrueAccepts { get; set; }
    public long FalseAccepts { get; set; }
    public long NeedsReview { get; set; }
    public long ReviewQueue { get; set; }
    /// <summary>Detections the corpus ground truth says hit a keyword (keyword end within 1 s).</summary>
    public long TruthTrueAccepts { get; set; }
    public long TruthFalseAccepts { get; set; }
    /// <summary>Decided aligner labels that agree with the ground truth.</summary>
    public long AgreeWithTruth { get; set; }
    public long DecidedWithTruth { get; set; }
    /// <summary>Decided TrueAccept labels whose detection the ground truth puts on a keyword.</summary>
    public long TrueAcceptsCorrect { get; set; }
    /// <summary>Decided FalseAccept labels whose detection the ground truth puts on no keyword.</summary>
    public long FalseAcceptsCorrect { get; set; }
    /// <summary>With <c>--simulated-review</c>: what the simulated person decided after the labeler (null otherwise).</summary>
    public ReviewFigures? SimulatedReview { get; set; }
    /// <summary>The day's near misses (scores in the band below the threshold: the only way a keyword the model missed reaches the
    /// gateway) and what the labeler made of them.</summary>
    public NearMissFigures NearMisses { get; set; } = new();
    /// <summary>Share of labelled detections sent to review (NeedsReview / all labels).</summary>
    public double? ReviewRate => TrueAccepts + FalseAccepts + NeedsReview == 0 ? null : (double)NeedsReview / (TrueAccepts + FalseAccepts + NeedsReview);
}

/// <summary>Near misses of one day: uploaded, on a keyword by the corpus ground truth, and labelled by the gateway's worker.</summary>
internal sealed class NearMissFigures
{
    public long Uploaded { get; set; }
    /// <summary>Near misses the ground truth puts on a keyword: keywords the model missed that reached the gateway.</summary>
    public long OnKeywords { get; set; }
    public long TrueAccepts { get; set; }
    /// <summary>Decided TrueAccept near misses on a keyword: missed keywords that became labelled positives (field training data).</summary>
    public long TrueAcceptsOnKeywords { get; set; }
    public long FalseAccepts { get; set; }
    /// <summary>Sent to the review queue (label Unknown).</summary>
    public long NeedsReview { get; set; }
    /// <summary>Not labelled by the worker (no clip stored for it): in no queue.</summary>
    public long Unlabelled { get; set; }
}

internal sealed record FaRow(string Scope, string Key, long TrueAccepts, long FalseAccepts, long Unlabelled, double ListeningHours, double? FaPerHour);

internal sealed record DriftRow(string ModelVersion, int Sketches, string? Level, double? MaxPsi, string? MaxPsiFeature, double? VolumeShiftDb, string? Reason);

internal sealed class ModelPush
{
    /// <summary>The day whose audio the candidate was made from.</summary>
    public int Day { get; set; } = 1;
    public string Status { get; set; } = "not run";
    public string? Version { get; set; }
    public string? Detail { get; set; }
    /// <summary>The promotion gate's summary for the candidate (null when no candidate reached the gate).</summary>
    public string? Gate { get; set; }
    public List<string> ConfirmedDevices { get; set; } = [];
    /// <summary>The candidate's INT8 manifest (also when refused), which the loop scores.</summary>
    public string? Manifest { get; set; }
}

/// <summary>One later day: the same devices hear new utterances with whatever model the rollout left on them.</summary>
internal sealed class DayRun
{
    public int Day { get; set; }
    public double AudioHours { get; set; }
    public int Keywords { get; set; }
    public long Detections { get; set; }
    public List<DeviceRun> DeviceRuns { get; set; } = [];
    /// <summary>The gateway's labels of this day's detections, compared with this day's ground truth.</summary>
    public LabelFigures Labels { get; set; } = new();
    /// <summary>The gateway's FA/hour by model (cumulative window: every day so far).</summary>
    public List<FaRow> FaPerHour { get; set; } = [];
}

internal sealed record ChildRecord(string Name, int Pid, bool Exited, int? ExitCode);
