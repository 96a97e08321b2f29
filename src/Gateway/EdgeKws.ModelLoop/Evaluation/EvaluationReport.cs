using System.Text.Json.Serialization;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// The streaming evaluation of one model (<c>evaluation.json</c>). Holds no clock time or path, so
/// the same model, streams and code give the same bytes.
/// </summary>
public sealed class EvaluationReport
{
    public const string Format = "edgekws-evaluation/1";

    public required string FormatVersion { get; init; }
    public required string ModelId { get; init; }
    public required string ModelVersion { get; init; }
    public required string ModelSha256 { get; init; }
    public required long ModelSizeBytes { get; init; }
    public required string FeatureConfigHash { get; init; }
    /// <summary>The keyword class the detector fires on.</summary>
    public required string Keyword { get; init; }
    /// <summary>Threshold evaluated as deployed (the manifest's unless overridden).</summary>
    public required float Threshold { get; init; }
    public required float ManifestThreshold { get; init; }
    public required int SmoothingFrames { get; init; }
    public required int StrideFrames { get; init; }
    public required int RefractoryMs { get; init; }
    public required int FrameHopMs { get; init; }
    /// <summary>A detection accepts a keyword over [start, end] when it fires in [start, end + tolerance].</summary>
    public required double ToleranceMs { get; init; }
    public string? EvaluationSet { get; init; }
    public required IReadOnlyList<StreamReport> Streams { get; init; }
    /// <summary>Hours of keyword-free streams.</summary>
    public required double NegativeStreamHours { get; init; }
    /// <summary>Hours of positive streams outside every keyword's acceptance interval.</summary>
    public required double PositiveBackgroundHours { get; init; }
    /// <summary>FA/hour denominator: <see cref="NegativeStreamHours"/> + <see cref="PositiveBackgroundHours"/>.</summary>
    public required double NegativeHours { get; init; }
    /// <summary>One false accept in the evaluated audio, in FA/hour: no smaller non-zero rate can be measured.</summary>
    public required double FaPerHourResolution { get; init; }
    public required long FalseAccepts { get; init; }
    public required long FalseAcceptsInNegativeStreams { get; init; }
    public required long FalseAcceptsInPositiveStreams { get; init; }
    public required long Keywords { get; init; }
    public required long MissedKeywords { get; init; }
    public required double FaPerHour { get; init; }
    public required double FalseRejectRate { get; init; }
    public required ReplayCheck ReplayCheck { get; init; }
    public required int CurvePoints { get; init; }
    /// <summary>
    /// How long after a keyword's end the detector fires, in audio time, over the detected keywords at the deployed threshold
    /// (the algorithmic part of the device's keyword end to event latency: window position, stride and smoothing; the
    /// bench adds the compute time). Null in reports written before it existed.
    /// </summary>
    public LatencySummary? KeywordEndToEvent { get; init; }
    /// <summary>
    /// Accuracy as a distribution at the deployed threshold: intervals, FRR per tag value, FA/hour per kind of negative
    /// audio. Null in reports written before it existed.
    /// </summary>
    public EvaluationBreakdown? Breakdown { get; init; }
}

/// <summary>One stream's counts at the deployed threshold (real detector events).</summary>
public sealed class StreamReport
{
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public required double DurationSeconds { get; init; }
    public required long Inferences { get; init; }
    public required long Detections { get; init; }
    public required long FalseAccepts { get; init; }
    public required long Keywords { get; init; }
    public required long DetectedKeywords { get; init; }
    /// <summary>Other keyword phrases spoken in the stream (detections on them are false accepts).</summary>
    public required long OtherPhrases { get; init; }
    public required long FalseAcceptsOnOtherPhrases { get; init; }
}

/// <summary>A latency distribution in milliseconds (nearest-rank percentiles); negative = fired before the keyword ended.</summary>
public sealed class LatencySummary
{
    public required int Count { get; init; }
    public required double P50Ms { get; init; }
    public required double P90Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double MinMs { get; init; }
    public required double MaxMs { get; init; }

    /// <summary>The summary of <paramref name="valuesMs"/>, or null when there is none.</summary>
    public static LatencySummary? Of(IReadOnlyCollection<double> valuesMs)
    {
        if (valuesMs.Count == 0) return null;
        double[] v = [.. valuesMs.Order()];
        // Nearest rank: the smallest value with at least p % of the values at or below it.
        double Rank(double p) => v[Math.Max(0, (int)Math.Ceiling(p / 100 * v.Length) - 1)];
        return new LatencySummary { Count = v.Length, P50Ms = Rank(50), P90Ms = Rank(90), P99Ms = Rank(99), MinMs = v[0], MaxMs = v[^1] };
    }
}

/// <summary>The sweep's replay of the firing rules compared with the real detector at the deployed threshold.</summary>
public sealed class ReplayCheck
{
    public required float Threshold { get; init; }
    public required long DetectorEvents { get; init; }
    public required long ReplayEvents { get; init; }
    public required bool IdenticalFrames { get; init; }
}

/// <summary>Source-generated JSON for the evaluation and gate reports (no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, UseStringEnumConverter = true)]
[JsonSerializable(typeof(EvaluationReport))]
[JsonSerializable(typeof(GateReport))]
[JsonSerializable(typeof(EvaluationBreakdown))]
public sealed partial class EvaluationJsonContext : JsonSerializerContext;
