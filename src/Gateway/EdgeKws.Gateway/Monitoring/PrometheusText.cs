using System.Globalization;
using System.Text;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4 by hand (no client library): each family once, its
/// <c># HELP</c> and <c># TYPE</c> lines before its samples; label values escaped (backslash, double quote, line feed);
/// HELP text escaped (backslash, line feed); values in Go float syntax (NaN, +Inf, -Inf).
/// </summary>
public sealed class PrometheusText
{
    /// <summary>Content type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private string? _current;

    /// <summary>Starts a metric family. A name may start only once (the format forbids split families).</summary>
    public PrometheusText Family(string name, string type, string help)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid metric name", nameof(name));
        }
        if (type is not ("counter" or "gauge" or "untyped"))
        {
            throw new ArgumentException($"type '{type}' is not counter, gauge or untyped", nameof(type));
        }
        if (!_families.Add(name))
        {
            throw new InvalidOperationException($"metric family '{name}' was already written");
        }
        _current = name;
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    /// <summary>A sample of the current family, with label pairs (name, value).</summary>
    public PrometheusText Sample(double value, params (string Name, string Value)[] labels)
    {
        if (_current is null)
        {
            throw new InvalidOperationException("Family must come before Sample");
        }
        _text.Append(_current);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                if (!IsValidLabelName(labels[i].Name))
                {
                    throw new ArgumentException($"'{labels[i].Name}' is not a valid label name", nameof(labels));
                }
                if (i > 0)
                {
                    _text.Append(',');
                }
                _text.Append(labels[i].Name).Append("=\"").Append(EscapeLabelValue(labels[i].Value)).Append('"');
            }
            _text.Append('}');
        }
        _text.Append(' ').Append(FormatValue(value)).Append('\n');
        return this;
    }

    /// <summary>The text.</summary>
    public override string ToString() => _text.ToString();

    /// <summary>Backslash, double quote and line feed escaped, as the format requires in label values.</summary>
    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>Go float syntax.</summary>
    public static string FormatValue(double value) =>
        double.IsNaN(value) ? "NaN" : double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]*</summary>
    public static bool IsValidName(string name) => IsValid(name, allowColon: true);

    /// <summary>[a-zA-Z_][a-zA-Z0-9_]*</summary>
    public static bool IsValidLabelName(string name) => IsValid(name, allowColon: false);

    private static bool IsValid(string name, bool allowColon)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (allowColon && c == ':') || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }
}
