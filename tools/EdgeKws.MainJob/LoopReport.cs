using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.MainJob;

/// <summary>
/// One model's streaming evaluation on one device's audio, or on the fleet's (the devices' counts summed): what
/// <c>edgekws-model evaluate</c> counts against the corpus ground truth at the model's deployed threshold.
/// </summary>
internal sealed class LoopFigures
{
    /// <summary>The device; null for the fleet.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DeviceId { get; set; }
    public long Keywords { get; set; }
    public long Missed { get; set; }
    /// <summary>Missed / keywords (0 without keywords).</summary>
    public double Frr { get; set; }
    /// <summary>Hours of audio outside every keyword's acceptance interval (the FA/hour denominator).</summary>
    public double NegativeHours { get; set; }
    public long FalseAccepts { get; set; }
    /// <summary>False accepts / negative hours (0 without negative audio).</summary>
    public double FaPerHour { get; set; }

    /// <summary>Figures from counts, with the evaluator's definitions of FRR and FA/hour.</summary>
    public static LoopFigures FromCounts(string? deviceId, long keywords, long missed, double negativeHours, long falseAccepts) => new()
    {
        DeviceId = deviceId,
        Keywords = keywords,
        Missed = missed,
        Frr = keywords == 0 ? 0 : (double)missed / keywords,
        NegativeHours = negativeHours,
        FalseAccepts = falseAccepts,
        FaPerHour = negativeHours <= 0 ? 0 : falseAccepts / negativeHours,
    };

    /// <summary>Reads an <c>edgekws-evaluation/1</c> report (<c>evaluation.json</c>).</summary>
    public static LoopFigures FromEvaluation(string? deviceId, JsonElement report) => FromCounts(deviceId,
        report.GetProperty("keywords").GetInt64(), report.GetProperty("missedKeywords").GetInt64(),
        report.GetProperty("negativeHours").GetDouble(), report.GetProperty("falseAccepts").GetInt64());

    /// <summary>The fleet: every device's counts summed, then FRR and FA/hour over the sums (as one evaluation of all streams).</summary>
    public static LoopFigures Fleet(IEnumerable<LoopFigures> devices)
    {
        var list = devices.ToList();
        return FromCounts(null, list.Sum(d => d.Keywords), list.Sum(d => d.Missed), list.Sum(d => d.NegativeHours), list.Sum(d => d.FalseAccepts));
    }
}

/// <summary>One model on the evaluated day's audio: the fleet and each device.</summary>
internal sealed class LoopSide
{
    public string Model { get; set; } = "";
    public LoopFigures Fleet { get; set; } = new();
    public List<LoopFigures> Devices { get; set; } = [];

    public static LoopSide Of(string model, IEnumerable<LoopFigures> devices)
    {
        List<LoopFigures> list = [.. devices.OrderBy(d => d.DeviceId, StringComparer.Ordinal)];
        return new LoopSide { Model = model, Fleet = LoopFigures.Fleet(list), Devices = list };
    }
}

/// <summary>
/// The loop's target on the last day's audio: the new model's FRR at most half of production's, its FA/hour not higher.
/// </summary>
internal sealed class LoopTarget
{
    /// <summary>Production's FRR / 2.</summary>
    public double MaxFrr { get; set; }
    /// <summary>Production's FA/hour.</summary>
    public double MaxFaPerHour { get; set; }
    public bool FrrMet { get; set; }
    public bool FaPerHourMet { get; set; }
    public bool Met { get; set; }
    /// <summary>How far the new FRR lies above <see cref="MaxFrr"/> (0 when met), as a fraction.</summary>
    public double FrrShortBy { get; set; }
    /// <summary>How far the new FA/hour lies above <see cref="MaxFaPerHour"/> (0 when met).</summary>
    public double FaPerHourExcess { get; set; }
    /// <summary>"met: ..." or "missed: ..." with the figures and by how much.</summary>
    public string Verdict { get; set; } = "";
}

/// <summary>
/// The summary's <c>loop</c>: the production model (before) and the model the loop made (after) scored on the same audio of
/// the last day, every device and the fleet, against the corpus ground truth, and whether the target was met.
/// </summary>
internal sealed class LoopReport
{
    /// <summary>The day whose audio both models are scored on.</summary>
    public int Day { get; set; }
    /// <summary>What that audio is (devices, minutes, keywords).</summary>
    public string Audio { get; set; } = "";
    /// <summary>Version of the production model the fleet started with.</summary>
    public string BeforeModel { get; set; } = "";
    /// <summary>Version of the model the loop made (null when no candidate was made).</summary>
    public string? AfterModel { get; set; }
    /// <summary>True when every device ran <see cref="AfterModel"/> on the evaluated day (the rollout confirmed it).</summary>
    public bool AfterDeployed { get; set; }
    /// <summary>What became of the new model: deployed, or why not (refused by the gate, skipped).</summary>
    public string AfterStatus { get; set; } = "";
    public LoopSide Before { get; set; } = new();
    /// <summary>The new model's figures (null when there is no candidate to score).</summary>
    public LoopSide? After { get; set; }
    /// <summary>The target's verdict (null without <see cref="After"/>).</summary>
    public LoopTarget? Target { get; set; }
    /// <summary>How the figures were made (evaluator, streams files).</summary>
    public string Method { get; set; } = "";

    /// <summary>The report from per-device evaluations of both models on the same audio.</summary>
    public static LoopReport Compute(int day, string audio, string beforeModel, IEnumerable<LoopFigures> before,
        string? afterModel, IEnumerable<LoopFigures>? after, bool afterDeployed, string afterStatus, string method)
    {
        var report = new LoopReport
        {
            Day = day,
            Audio = audio,
            BeforeModel = beforeModel,
            AfterModel = afterModel,
            AfterDeployed = afterDeployed,
            AfterStatus = afterStatus,
            Before = LoopSide.Of(beforeModel, before),
            Method = method,
        };
        if (afterModel is not null && after is not null)
        {
            report.After = LoopSide.Of(afterModel, after);
            report.Target = Judge(report.Before.Fleet, report.After.Fleet);
        }
        return report;
    }

    /// <summary>Target: FRR at most half of production's and FA/hour not higher, on the fleet.</summary>
    public static LoopTarget Judge(LoopFigures before, LoopFigures after)
    {
        var t = new LoopTarget
        {
            MaxFrr = before.Frr / 2,
            MaxFaPerHour = before.FaPerHour,
        };
        // A tolerance for floating-point sums only (one keyword is 1/keywords, far larger).
        t.FrrMet = after.Frr <= t.MaxFrr + 1e-12;
        t.FaPerHourMet = after.FaPerHour <= t.MaxFaPerHour + 1e-9;
        t.Met = t.FrrMet && t.FaPerHourMet;
        t.FrrShortBy = t.FrrMet ? 0 : after.Frr - t.MaxFrr;
        t.FaPerHourExcess = t.FaPerHourMet ? 0 : after.FaPerHour - t.MaxFaPerHour;
        string frr = string.Create(CultureInfo.InvariantCulture,
            $"FRR {Percent(before.Frr)} -> {Percent(after.Frr)} (target <= {Percent(t.MaxFrr)}{(t.FrrMet ? ": met" : $": {t.FrrShortBy * 100:0.0} points above")})");
        string fa = string.Create(CultureInfo.InvariantCulture,
            $"FA/hour {before.FaPerHour:0.0} -> {after.FaPerHour:0.0} ({(t.FaPerHourMet ? "not higher: met" : $"{t.FaPerHourExcess:0.0} higher")})");
        t.Verdict = $"{(t.Met ? "met" : "missed")}: {frr}; {fa}";
        return t;
    }

    private static string Percent(double x) => (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";
}
