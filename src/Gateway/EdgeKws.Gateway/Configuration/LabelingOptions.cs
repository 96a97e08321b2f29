namespace EdgeKws.Gateway.Configuration;

/// <summary>
/// The trigger-clip labeling worker (<c>Gateway:Labeling</c>): forced alignment of the wake phrase against each uploaded trigger
/// clip (PocketSphinx, Debian packages pocketsphinx and pocketsphinx-en-us). Off by default: it needs those packages, and
/// labels it writes change FA/hour.
/// </summary>
public sealed class LabelingOptions
{
    /// <summary>Whether the worker runs.</summary>
    public bool Enabled { get; set; }

    /// <summary>The wake phrase to align. Null or empty: the phrase is the detection's reported keyword ("hey_edge" reads "hey edge").</summary>
    public string? WakePhrase { get; set; }

    /// <summary>Extra near-miss phrases the wake phrase competes with (e.g. "hay edgar"), besides the generated ones.</summary>
    public string[] NearMisses { get; set; } = [];

    /// <summary>Whether dictionary near misses of the wake phrase's last word compete (see docs/labeling.md).</summary>
    public bool GenerateNearMisses { get; set; } = true;

    /// <summary>Aligner confidence at or above which a clip is labelled a true accept (when no near miss wins).</summary>
    public double AcceptAtOrAbove { get; set; } = 0.6;

    /// <summary>Aligner confidence below which a clip is labelled a false accept.</summary>
    public double MissBelow { get; set; } = 0.3;

    /// <summary>A winning near miss with at least this acoustic margin per frame makes a false accept; a narrower win goes to review.</summary>
    public double NearMissMarginPerFrame { get; set; }

    /// <summary>How long a clip held only as features waits for its raw audio before it goes to review as feature-only (the device
    /// may upload the two in either order, and an outbox may hold one back).</summary>
    public TimeSpan FeatureOnlyGrace { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the worker looks for new trigger clips.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Clips read per store query (bounds memory: a clip is up to ~320 KB).</summary>
    public int BatchClips { get; set; } = 16;

    /// <summary>Where <c>POST /api/review/datasets</c> writes datasets (one sub-directory per dataset name).</summary>
    public string DatasetDirectory { get; set; } = "data/datasets";

    /// <summary>A label calibration (<c>edgekws-dataset label-bench --out</c> writes <c>label-calibration.json</c>). When set, labels are
    /// decided from every signal by the calibrated probability and the precision targets below; when not, by the aligner's fixed
    /// rules (<see cref="AcceptAtOrAbove"/>, <see cref="MissBelow"/>, <see cref="NearMissMarginPerFrame"/>).</summary>
    public string? CalibrationPath { get; set; }

    /// <summary>With a calibration: a clip is labelled a true accept automatically only when P(wake phrase) is at least this.</summary>
    public double TrueAcceptPrecision { get; set; } = EdgeKws.Labeling.Verification.CalibratedLabeler.DefaultPrecision;

    /// <summary>With a calibration: a clip is labelled a false accept automatically only when 1 - P(wake phrase) is at least this.</summary>
    public double FalseAcceptPrecision { get; set; } = EdgeKws.Labeling.Verification.CalibratedLabeler.DefaultPrecision;

    /// <summary>A gateway verifier model's manifest (a second, larger keyword model over the same MFCCs), whose score is one more
    /// signal; it must be the model the calibration was fitted with.</summary>
    public string? VerifierModelPath { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(MissBelow >= 0 && MissBelow <= AcceptAtOrAbove && AcceptAtOrAbove <= 1))
        {
            throw new ArgumentException($"Gateway:Labeling: need 0 <= MissBelow ({MissBelow}) <= AcceptAtOrAbove ({AcceptAtOrAbove}) <= 1");
        }
        if (!(NearMissMarginPerFrame >= 0))
        {
            throw new ArgumentException($"Gateway:Labeling:NearMissMarginPerFrame {NearMissMarginPerFrame} must be >= 0");
        }
        if (FeatureOnlyGrace < TimeSpan.Zero)
        {
            throw new ArgumentException($"Gateway:Labeling:FeatureOnlyGrace {FeatureOnlyGrace} must be >= 0");
        }
        if (Interval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Gateway:Labeling:Interval {Interval} must be positive");
        }
        if (BatchClips is < 1 or > 1000)
        {
            throw new ArgumentException($"Gateway:Labeling:BatchClips {BatchClips} must be in 1..1000");
        }
        if (string.IsNullOrWhiteSpace(DatasetDirectory))
        {
            throw new ArgumentException("Gateway:Labeling:DatasetDirectory must not be empty");
        }
        if (!(TrueAcceptPrecision > 0.5 && TrueAcceptPrecision < 1) || !(FalseAcceptPrecision > 0.5 && FalseAcceptPrecision < 1))
        {
            throw new ArgumentException($"Gateway:Labeling: TrueAcceptPrecision ({TrueAcceptPrecision}) and FalseAcceptPrecision ({FalseAcceptPrecision}) must be in (0.5, 1)");
        }
        if (NearMisses.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("Gateway:Labeling:NearMisses must not contain empty phrases");
        }
    }
}
