using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>Writes an evaluation as files: <c>evaluation.json</c>, <c>det.csv</c> and <c>det.png</c>.</summary>
public static class EvaluationWriter
{
    public const string ReportFile = "evaluation.json";
    public const string CurveFile = "det.csv";
    public const string PlotFile = "det.png";
    public const string DetectionsFile = "detections.csv";
    public const string GateFile = "gate.json";
    public const string GatePlotFile = "gate-det.png";

    /// <summary>Writes the three files into <paramref name="directory"/> (created if missing).</summary>
    public static void Write(StreamingEvaluation evaluation, string directory)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        Directory.CreateDirectory(directory);
        var r = evaluation.Report;
        File.WriteAllText(Path.Combine(directory, ReportFile), JsonSerializer.Serialize(r, EvaluationJsonContext.Default.EvaluationReport) + "\n");
        File.WriteAllText(Path.Combine(directory, CurveFile), ToCsv(evaluation.Curve));
        // Every detection at the deployed threshold, to listen to false accepts and line them up with the ground truth.
        var d = new StringBuilder("stream,end_frame,end_ms\n");
        foreach (var t in evaluation.Traces)
        {
            foreach (long f in t.DetectorEventFrames) d.Append(CultureInfo.InvariantCulture, $"{t.Stream.Name},{f},{(f + 1) * r.FrameHopMs}\n");
        }
        File.WriteAllText(Path.Combine(directory, DetectionsFile), d.ToString());
        string title = string.Create(CultureInfo.InvariantCulture, $"DET '{r.Keyword}' {r.ModelVersion}: {r.FaPerHour:0.##} FA/H, FRR {r.FalseRejectRate * 100:0.#}% AT {r.Threshold:0.###}");
        File.WriteAllBytes(Path.Combine(directory, PlotFile), DetPlot.Render(title,
            [new DetPlotSeries(r.ModelVersion, evaluation.Curve, evaluation.Deployed, 30, 90, 200)], r.NegativeHours));
    }

    /// <summary>Writes <c>gate.json</c> and a plot of both curves into <paramref name="directory"/>.</summary>
    public static void WriteGate(GateReport gate, StreamingEvaluation current, StreamingEvaluation candidate, string directory)
    {
        ArgumentNullException.ThrowIfNull(gate);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, GateFile), JsonSerializer.Serialize(gate, EvaluationJsonContext.Default.GateReport) + "\n");
        File.WriteAllBytes(Path.Combine(directory, GatePlotFile), DetPlot.Render(
            gate.Promote ? "GATE: PROMOTE" : "GATE: REFUSE",
            [
                new DetPlotSeries("CURRENT " + current.Report.ModelVersion, current.Curve, current.Deployed, 120, 120, 120),
                new DetPlotSeries("CANDIDATE " + candidate.Report.ModelVersion, candidate.Curve, candidate.Deployed, 210, 60, 30),
            ], current.Report.NegativeHours));
    }

    /// <summary>One row per threshold, ascending: threshold, false accepts, negative hours, FA/hour, missed, keywords, FRR.</summary>
    public static string ToCsv(ReadOnlySpan<StreamingDetPoint> curve)
    {
        var sb = new StringBuilder("threshold,false_accepts,negative_hours,fa_per_hour,missed_keywords,keywords,frr\n");
        foreach (var p in curve)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{p.Threshold:R},{p.FalseAccepts},{p.NegativeHours:R},{p.FaPerHour:R},{p.MissedKeywords},{p.Keywords},{p.FalseRejectRate:R}\n");
        }
        return sb.ToString();
    }
}
