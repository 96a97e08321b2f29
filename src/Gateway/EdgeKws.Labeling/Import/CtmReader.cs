using System.Globalization;

namespace EdgeKws.Labeling.Import;

/// <summary>
/// Reads Kaldi/NIST CTM files: <c>utterance channel start duration word [confidence]</c>, times in
/// seconds, one word per line, any number of utterances per file; <c>;;</c> lines are comments.
/// </summary>
public static class CtmReader
{
    /// <summary>Reads every utterance of a CTM file, in the order they first appear.</summary>
    /// <param name="path">The CTM file.</param>
    /// <param name="underscoreIsSpace">Turn '_' in words back into spaces (phrases written as one token, e.g. "hey_edge"), as the corpus generator writes them.</param>
    /// <exception cref="LabelFormatException">A line has the wrong number of fields, a bad number, a negative duration, or goes back in time; names the line.</exception>
    public static IReadOnlyList<WordAlignment> Read(string path, bool underscoreIsSpace = true) => Parse(path, File.ReadAllLines(path), underscoreIsSpace);

    /// <summary>As <see cref="Read"/> for lines already in memory; <paramref name="path"/> only names them in errors.</summary>
    public static IReadOnlyList<WordAlignment> Parse(string path, IReadOnlyList<string> lines, bool underscoreIsSpace = true)
    {
        var order = new List<string>();
        var byUtt = new Dictionary<string, List<WordSpan>>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Count; i++)
        {
            int line = i + 1;
            string text = lines[i].Trim();
            if (text.Length == 0 || text.StartsWith(";;", StringComparison.Ordinal))
            {
                continue;
            }

            string[] f = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length is < 5 or > 6)
            {
                throw new LabelFormatException(path, line, $"a CTM line has 5 or 6 fields (utterance channel start duration word [confidence]); this one has {f.Length}.");
            }

            double start = Seconds(path, line, f[2], "start");
            double dur = Seconds(path, line, f[3], "duration");
            if (dur <= 0)
            {
                throw new LabelFormatException(path, line, $"duration must be positive; got {f[3]}.");
            }

            double? conf = null;
            if (f.Length == 6)
            {
                double c = Seconds(path, line, f[5], "confidence");
                if (c is < 0 or > 1)
                {
                    throw new LabelFormatException(path, line, $"confidence must be in 0..1; got {f[5]}.");
                }

                conf = c;
            }

            string word = underscoreIsSpace ? f[4].Replace('_', ' ') : f[4];
            if (WordIntervalRules.IsSilence(word))
            {
                continue;
            }

            var span = new WordSpan(word, start * 1000, (start + dur) * 1000, conf);
            WordIntervalRules.Check(path, line, word, span.StartMs, span.EndMs);
            if (!byUtt.TryGetValue(f[0], out List<WordSpan>? list))
            {
                byUtt[f[0]] = list = [];
                order.Add(f[0]);
            }

            WordIntervalRules.CheckOrder(path, line, list.Count > 0 ? list[^1] : null, span);
            list.Add(span);
        }

        return [.. order.Select(u => new WordAlignment(u, byUtt[u], new LabelSource(LabelKinds.Import, "kaldi-ctm")))];
    }

    private static double Seconds(string path, int line, string text, string what) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v
            : throw new LabelFormatException(path, line, $"{what} '{text}' is not a number.");
}
