using System.Globalization;
using EdgeKws.Device.Listening;

namespace EdgeKws.Bench.Report;

/// <summary>One number of the report: what, how much, in which unit, against which budget.</summary>
public sealed record Figure(string Key, string Name, double Value, string Unit, double? Budget = null, string Note = "")
{
    /// <summary>Null without a budget; else whether the value stays within it.</summary>
    public bool? Passes => Budget is { } b ? Value <= b : null;

    public string Formatted => Format(Value, Unit);

    public static string Format(double value, string unit)
    {
        if (double.IsNaN(value)) return "n/a";
        string number = Math.Abs(value) switch
        {
            >= 1_000 => value.ToString("#,0", CultureInfo.InvariantCulture),
            >= 100 => value.ToString("0.#", CultureInfo.InvariantCulture),
            >= 1 => value.ToString("0.##", CultureInfo.InvariantCulture),
            0 => "0",
            _ => value.ToString("G3", CultureInfo.InvariantCulture), // 3 significant digits: real-time factors are small
        };
        return unit.Length == 0 ? number : $"{number} {unit}";
    }
}

/// <summary>Percentiles of one latency measurement on one platform; nearest rank, as the agent's summary line computes them.</summary>
public sealed record LatencySet(string Metric, string Platform, string Unit, double[] Samples, string Note = "")
{
    public static readonly (string Name, double Q)[] Quantiles = [("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)];

    private double[]? _sorted;

    public double[] Sorted => _sorted ??= Samples.Order().ToArray();

    public int Count => Samples.Length;

    /// <summary>Nearest-rank percentile (<see cref="ListeningPipeline.Percentile"/>, the agent's definition).</summary>
    public double At(double q) => ListeningPipeline.Percentile(Sorted, q);

    /// <summary>p99.9 needs 1,000 samples to be more than the maximum; say so rather than print a misleading tail.</summary>
    public bool TailResolved(double q) => Count > 0 && (1 - q) * Count >= 1;
}
