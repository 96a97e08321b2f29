using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.Labeling.Verification;

/// <summary>
/// Turns a clip's <see cref="LabelEvidence"/> into a calibrated probability that the clip holds the wake phrase:
/// logistic regression over the standardised evidence features (Platt scaling generalised to several signals), fitted on a
/// held-out labelled set (<see cref="Fit"/>). Stored as JSON (<c>edgekws-label-calibration/1</c>) with what it was fitted on.
/// </summary>
/// <remarks>
/// Hand-written rather than taken from an ML library: six features and a few hundred examples need twenty lines of Newton's
/// method, and the gateway then carries no ML framework for it.
/// </remarks>
public sealed record LabelCalibration
{
    /// <summary>Value of <see cref="Format"/>.</summary>
    public const string FormatName = "edgekws-label-calibration/1";

    /// <summary>File format marker.</summary>
    public string Format { get; init; } = FormatName;

    /// <summary>Feature names, as <see cref="LabelEvidence.FeatureNames"/> when fitted.</summary>
    public required IReadOnlyList<string> FeatureNames { get; init; }

    /// <summary>Per-feature mean of the fitting set.</summary>
    public required IReadOnlyList<double> Means { get; init; }

    /// <summary>Per-feature standard deviation of the fitting set (1 where a feature was constant).</summary>
    public required IReadOnlyList<double> Scales { get; init; }

    /// <summary>Weights on the standardised features.</summary>
    public required IReadOnlyList<double> Weights { get; init; }

    /// <summary>Intercept.</summary>
    public required double Bias { get; init; }

    /// <summary>L2 penalty used in the fit.</summary>
    public double L2 { get; init; }

    /// <summary>Examples fitted on.</summary>
    public int Examples { get; init; }

    /// <summary>Of them, clips that held the wake phrase.</summary>
    public int TrueAccepts { get; init; }

    /// <summary>Mean log loss on the fitting set.</summary>
    public double LogLoss { get; init; }

    /// <summary>What it was fitted on (corpus, split, aligner, model), for lineage.</summary>
    public string? FittedOn { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>The probability that the clip holds the wake phrase.</summary>
    /// <exception cref="InvalidOperationException">The calibration was fitted on other features than this build computes.</exception>
    public double ProbabilityTrueAccept(LabelEvidence evidence)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        if (!FeatureNames.SequenceEqual(LabelEvidence.FeatureNames, StringComparer.Ordinal))
        {
            throw new InvalidOperationException($"the calibration was fitted on features [{string.Join(", ", FeatureNames)}]; this build computes [{string.Join(", ", LabelEvidence.FeatureNames)}]: fit it again");
        }
        double[] x = evidence.Features();
        double z = Bias;
        for (int i = 0; i < x.Length; i++)
        {
            z += Weights[i] * (x[i] - Means[i]) / Scales[i];
        }
        return Sigmoid(z);
    }

    /// <summary>Fits the calibration on labelled evidence by Newton's method (L2-penalised logistic regression).</summary>
    /// <param name="examples">Evidence and whether the clip truly holds the wake phrase; both classes must be present.</param>
    /// <param name="l2">L2 penalty on the weights (not the bias); keeps a feature that separates the set perfectly finite.</param>
    /// <param name="fittedOn">Description for lineage.</param>
    public static LabelCalibration Fit(IReadOnlyList<(LabelEvidence Evidence, bool IsTrueAccept)> examples, double l2 = 1.0, string? fittedOn = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        int positives = examples.Count(e => e.IsTrueAccept);
        if (positives == 0 || positives == examples.Count)
        {
            throw new ArgumentException($"a calibration needs clips of both kinds; got {positives} with the wake phrase and {examples.Count - positives} without", nameof(examples));
        }
        if (!(l2 >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(l2), l2, "the L2 penalty must be >= 0");
        }

        int n = examples.Count, d = LabelEvidence.FeatureNames.Count;
        double[][] raw = [.. examples.Select(e => e.Evidence.Features())];
        double[] means = new double[d], scales = new double[d];
        for (int j = 0; j < d; j++)
        {
            means[j] = raw.Average(r => r[j]);
            double sd = Math.Sqrt(raw.Average(r => (r[j] - means[j]) * (r[j] - means[j])));
            scales[j] = sd > 1e-9 ? sd : 1;
        }
        // Design matrix with the intercept as column 0.
        double[][] x = [.. raw.Select(r => (double[])[1, .. r.Select((v, j) => (v - means[j]) / scales[j])])];
        double[] y = [.. examples.Select(e => e.IsTrueAccept ? 1.0 : 0.0)];
        double[] w = new double[d + 1];
        for (int iteration = 0; iteration < 100; iteration++)
        {
            var gradient = new double[d + 1];
            var hessian = new double[d + 1, d + 1];
            for (int i = 0; i < n; i++)
            {
                double p = Sigmoid(Dot(w, x[i]));
                double s = Math.Max(p * (1 - p), 1e-12);
                for (int a = 0; a <= d; a++)
                {
                    gradient[a] += (p - y[i]) * x[i][a];
                    for (int b = 0; b <= d; b++)
                    {
                        hessian[a, b] += s * x[i][a] * x[i][b];
                    }
                }
            }
            for (int a = 1; a <= d; a++)
            {
                gradient[a] += l2 * w[a];
                hessian[a, a] += l2;
            }
            hessian[0, 0] += 1e-9;
            double[] step = Solve(hessian, gradient);
            double change = 0;
            for (int a = 0; a <= d; a++)
            {
                w[a] -= step[a];
                change = Math.Max(change, Math.Abs(step[a]));
            }
            if (change < 1e-10)
            {
                break;
            }
        }

        double logLoss = 0;
        for (int i = 0; i < n; i++)
        {
            double p = Math.Clamp(Sigmoid(Dot(w, x[i])), 1e-12, 1 - 1e-12);
            logLoss -= (y[i] * Math.Log(p)) + ((1 - y[i]) * Math.Log(1 - p));
        }
        return new LabelCalibration
        {
            FeatureNames = [.. LabelEvidence.FeatureNames],
            Means = means,
            Scales = scales,
            Weights = w[1..],
            Bias = w[0],
            L2 = l2,
            Examples = n,
            TrueAccepts = positives,
            LogLoss = logLoss / n,
            FittedOn = fittedOn,
        };
    }

    /// <summary>Writes the calibration as JSON.</summary>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>Reads a calibration file; a file that is not one, or whose arrays disagree in length, is refused naming the problem.</summary>
    public static LabelCalibration Load(string path)
    {
        LabelCalibration? c;
        try
        {
            c = JsonSerializer.Deserialize<LabelCalibration>(File.ReadAllText(path), Json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a label calibration file: {ex.Message}", ex);
        }
        if (c is null || c.Format != FormatName)
        {
            throw new InvalidDataException($"{path}: 'format' must be '{FormatName}'");
        }
        int d = c.FeatureNames.Count;
        if (c.Means.Count != d || c.Scales.Count != d || c.Weights.Count != d)
        {
            throw new InvalidDataException($"{path}: 'means', 'scales' and 'weights' must each have one entry per feature ({d})");
        }
        if (c.Scales.Any(s => !(s > 0)) || c.Weights.Concat(c.Means).Append(c.Bias).Any(v => !double.IsFinite(v)))
        {
            throw new InvalidDataException($"{path}: 'scales' must be positive and every weight, mean and the bias finite");
        }
        return c;
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }
        return s;
    }

    // Gaussian elimination with partial pivoting; the penalised Hessian is symmetric positive definite.
    private static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        var m = (double[,])a.Clone();
        var v = (double[])b.Clone();
        for (int c = 0; c < n; c++)
        {
            int pivot = c;
            for (int r = c + 1; r < n; r++)
            {
                if (Math.Abs(m[r, c]) > Math.Abs(m[pivot, c]))
                {
                    pivot = r;
                }
            }
            if (pivot != c)
            {
                for (int k = 0; k < n; k++)
                {
                    (m[c, k], m[pivot, k]) = (m[pivot, k], m[c, k]);
                }
                (v[c], v[pivot]) = (v[pivot], v[c]);
            }
            for (int r = c + 1; r < n; r++)
            {
                double f = m[r, c] / m[c, c];
                for (int k = c; k < n; k++)
                {
                    m[r, k] -= f * m[c, k];
                }
                v[r] -= f * v[c];
            }
        }
        var result = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double s = v[r];
            for (int k = r + 1; k < n; k++)
            {
                s -= m[r, k] * result[k];
            }
            result[r] = s / m[r, r];
        }
        return result;
    }
}
