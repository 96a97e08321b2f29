using System.Globalization;

namespace EdgeKws.Gateway.Configuration;

/// <summary>
/// The gateway's model loop (<c>Gateway:Models</c>): where the release signing key is, how model jobs run the trainer,
/// and the staged-rollout rules. See docs/model-updates.md ("Gateway: registry, jobs, rollout").
/// </summary>
public sealed class ModelLoopOptions
{
    /// <summary>
    /// PEM file of the release signing key (ECDSA P-256, PKCS#8 <c>PRIVATE KEY</c> or SEC 1 <c>EC PRIVATE KEY</c>, unencrypted).
    /// The file must not be readable by group or others (mode 0600 or 0400), or the gateway refuses it. Null: the gateway
    /// cannot register models (everything else works).
    /// </summary>
    public string? SigningKeyPath { get; set; }

    /// <summary>Working directory of model jobs (one subdirectory per job: trained, int8, evaluation, gate).</summary>
    public string WorkDirectory { get; set; } = "model-jobs";

    /// <summary>Where models built elsewhere wait to be registered: a register job names its INT8 manifest (model file beside it)
    /// and its training manifest by their place under this directory (<c>hey-edge-1.3.0/model.int8.manifest.json</c>), never by a
    /// server path. The API cannot write here; whoever runs the gateway copies files in.</summary>
    public string ImportDirectory { get; set; } = "data/model-imports";

    /// <summary>Where evaluation sets (<c>edgekws-streams/1</c> files) are: a job names its set by its place under this directory.</summary>
    public string EvaluationSetDirectory { get; set; } = "data/evaluation-sets";

    /// <summary>Debian's interpreter, which has python3-torch and python3-onnx (the python3 first on PATH may not).</summary>
    public string Python { get; set; } = "/usr/bin/python3";

    /// <summary>tools/train/train.py; null looks for it above the gateway's binaries (a source checkout).</summary>
    public string? TrainerScript { get; set; }

    /// <summary>Longest a training run may take.</summary>
    public TimeSpan TrainTimeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Model bytes per <c>ModelChunk</c> message (1..16384).</summary>
    public int ChunkSizeBytes { get; set; } = 4096;

    /// <summary>The rollout rules.</summary>
    public RolloutOptions Rollout { get; set; } = new();

    /// <summary>The automatic fine-tune policy (off by default).</summary>
    public AutoFineTuneOptions AutoFineTune { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(WorkDirectory))
        {
            throw new ArgumentException("Gateway:Models:WorkDirectory must not be empty");
        }
        if (string.IsNullOrWhiteSpace(ImportDirectory) || string.IsNullOrWhiteSpace(EvaluationSetDirectory))
        {
            throw new ArgumentException("Gateway:Models:ImportDirectory and EvaluationSetDirectory must not be empty");
        }
        if (string.IsNullOrWhiteSpace(Python))
        {
            throw new ArgumentException("Gateway:Models:Python must not be empty");
        }
        if (TrainTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Gateway:Models:TrainTimeout must be positive");
        }
        if (ChunkSizeBytes is < 1 or > Shared.Contracts.ModelTransfer.MaxChunkPayloadBytes)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Gateway:Models:ChunkSizeBytes must be 1..{Shared.Contracts.ModelTransfer.MaxChunkPayloadBytes}, got {ChunkSizeBytes}"));
        }
        Rollout.Validate();
        AutoFineTune.Validate();
    }
}

/// <summary>
/// Staged rollout (<c>Gateway:Models:Rollout</c>). The automatic rollback rule (<see cref="EdgeKws.Gateway.Rollout.ProductionFaRule"/>): the new
/// version's production FA/hour on the rollout's devices is compared with the old version's fleet FA/hour, and the rollout
/// halts and rolls back when <c>new &gt; RatioLimit x old + SlackFaPerHour</c>, once the new version has at least
/// <see cref="MinListeningHours"/> of listening and <see cref="MinFalseAccepts"/> labelled false accepts.
/// </summary>
public sealed class RolloutOptions
{
    /// <summary>Run rollouts in this instance (with several gateway instances on PostgreSQL, enable it on one).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the rollout controller looks at device confirmations and FA/hour.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A device that has not confirmed (or refused) an offer or a rollback within this time halts the rollout. For an offer
    /// it counts from the last send to the device while it was online (or from its reconnect when no resend is left): time
    /// offline does not count.</summary>
    public TimeSpan ConfirmTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>A device whose presence says Online but from which nothing (heartbeat, status, presence) was stored for this long
    /// counts as offline. Presence (the device's Online message and its MQTT will, published by the broker within 1.5 x the
    /// 30 s keep-alive) is the main signal; this only catches a stale Online row. Far above the 60 s heartbeat.</summary>
    public TimeSpan OfflineAfterSilence { get; set; } = TimeSpan.FromHours(2);

    /// <summary>A device offline (since its last stored message) longer than this no longer holds its wave: it is Deferred and the
    /// rollout goes on. A canary step still needs at least one confirmed device.</summary>
    public TimeSpan OfflineGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Offers sent to one device after the first (it reconnected without confirming, or its transfer timed out); after
    /// that it gets no more: a device online without confirming then runs into the confirm timeout.</summary>
    public int MaxResends { get; set; } = 3;

    /// <summary>Default listening hours of the new version the confirmed devices of a step must accumulate before the next
    /// step starts (a rollout may set its own). 4 h of canary listening resolves FA/hour to 0.25.</summary>
    public double SoakListeningHours { get; set; } = 4.0;

    /// <summary>Rollback when new FA/hour &gt; RatioLimit x old FA/hour + <see cref="SlackFaPerHour"/>.</summary>
    public double RatioLimit { get; set; } = 1.5;

    /// <summary>Absolute FA/hour allowance added to the ratio limit, so a near-zero old rate does not trip on one event.</summary>
    public double SlackFaPerHour { get; set; } = 0.5;

    /// <summary>The rule does not judge the new version before this many listening hours on the rollout's devices.</summary>
    public double MinListeningHours { get; set; } = 2.0;

    /// <summary>The rule does not trip on fewer labelled false accepts of the new version than this.</summary>
    public int MinFalseAccepts { get; set; } = 3;

    /// <summary>Window of the old version's fleet FA/hour (ending now).</summary>
    public TimeSpan ComparisonWindow { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Positive(TimeSpan t, string name)
        {
            if (t <= TimeSpan.Zero)
            {
                throw new ArgumentException($"Gateway:Models:Rollout:{name} must be positive");
            }
        }
        Positive(PollInterval, nameof(PollInterval));
        Positive(ConfirmTimeout, nameof(ConfirmTimeout));
        Positive(ComparisonWindow, nameof(ComparisonWindow));
        Positive(OfflineAfterSilence, nameof(OfflineAfterSilence));
        Positive(OfflineGrace, nameof(OfflineGrace));
        if (OfflineGrace < ConfirmTimeout)
        {
            // Shorter would defer a device that just dropped off mid-transfer before it had the time to answer one offer.
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Gateway:Models:Rollout:OfflineGrace ({OfflineGrace}) must be at least ConfirmTimeout ({ConfirmTimeout})"));
        }
        if (MaxResends is < 0 or > 100)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Gateway:Models:Rollout:MaxResends must be 0..100, got {MaxResends}"));
        }
        if (!(SoakListeningHours >= 0) || !(MinListeningHours >= 0) || !(SlackFaPerHour >= 0) || !(RatioLimit >= 1) || MinFalseAccepts < 1)
        {
            throw new ArgumentException("Gateway:Models:Rollout: SoakListeningHours, MinListeningHours and SlackFaPerHour must be >= 0, RatioLimit >= 1, MinFalseAccepts >= 1");
        }
    }
}
