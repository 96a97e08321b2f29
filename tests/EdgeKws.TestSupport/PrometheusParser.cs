using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeKws.TestSupport;

/// <summary>
/// A strict reader of the Prometheus text format 0.0.4, independent of the writer (prometheus-net in the gateway; no
/// served .NET package parses the format, docs/decisions.md): every sample belongs to a family
/// announced by one HELP and one TYPE line before its first sample; families are not split; names and label names
/// match the grammar; label values use only the escapes \\, \" and \n; values parse as Go floats. Throws on any violation.
/// </summary>
public static partial class PrometheusParser
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed record Family(string Name, string Type, string Help, List<Sample> Samples);

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    public static Dictionary<string, Family> Parse(string text)
    {
        if (!text.EndsWith('\n'))
        {
            throw new FormatException("the exposition must end with a line feed");
        }
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        var closed = new HashSet<string>(StringComparer.Ordinal);
        string[] lines = text[..^1].Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n];
            string where = $"line {n + 1} '{line}'";
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                string rest = line[7..];
                int sp = rest.IndexOf(' ', StringComparison.Ordinal);
                string name = sp < 0 ? rest : rest[..sp];
                Require(MetricName().IsMatch(name), where, "bad metric name");
                Require(!help.ContainsKey(name) && !closed.Contains(name), where, "second HELP for a family");
                help[name] = sp < 0 ? string.Empty : rest[(sp + 1)..];
                if (current is not null && current != name)
                {
                    closed.Add(current);
                }
                current = name;
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line[7..].Split(' ');
                Require(parts.Length == 2, where, "TYPE needs a name and a type");
                Require(parts[0] == current && help.ContainsKey(parts[0]), where, "TYPE must follow its family's HELP");
                Require(parts[1] is "counter" or "gauge" or "histogram" or "summary" or "untyped", where, "unknown type");
                Require(!families.ContainsKey(parts[0]), where, "second TYPE for a family");
                families[parts[0]] = new Family(parts[0], parts[1], help[parts[0]], []);
                continue;
            }
            Require(!line.StartsWith('#') && line.Length > 0, where, "unexpected comment or empty line");
            (string sampleName, Dictionary<string, string> labels, string rest2) = ReadSample(line, where);
            Require(sampleName == current && families.ContainsKey(sampleName), where, "sample outside its family (no HELP/TYPE before it, or a split family)");
            string valueText = rest2.Split(' ')[0];
            families[sampleName].Samples.Add(new Sample(sampleName, labels, ParseValue(valueText, where)));
        }
        return families;
    }

    private static (string, Dictionary<string, string>, string) ReadSample(string line, string where)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }
        string name = line[..i];
        Require(MetricName().IsMatch(name), where, "bad metric name");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                Require(eq > i, where, "label without '='");
                string label = line[i..eq];
                Require(LabelName().IsMatch(label), where, $"bad label name '{label}'");
                Require(line[eq + 1] == '"', where, "label value must be quoted");
                var value = new StringBuilder();
                int j = eq + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        j++;
                        value.Append(line[j] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"{where}: invalid escape \\{line[j]}"),
                        });
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }
                Require(!labels.ContainsKey(label), where, "repeated label");
                labels[label] = value.ToString();
                i = j + 1;
                if (line[i] == ',')
                {
                    i++;
                }
                else
                {
                    Require(line[i] == '}', where, "expected ',' or '}'");
                }
            }
            i++;
        }
        Require(i < line.Length && line[i] == ' ', where, "expected a space before the value");
        return (name, labels, line[(i + 1)..]);
    }

    private static double ParseValue(string s, string where) => s switch
    {
        "NaN" => double.NaN,
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new FormatException($"{where}: value '{s}' is not a float"),
    };

    private static void Require(bool ok, string where, string what)
    {
        if (!ok)
        {
            throw new FormatException($"{where}: {what}");
        }
    }
}
