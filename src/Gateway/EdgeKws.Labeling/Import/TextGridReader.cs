using System.Globalization;
using System.Text;

namespace EdgeKws.Labeling.Import;

/// <summary>One tier of a Praat TextGrid.</summary>
/// <param name="Name">Tier name ("words", "phones", or MFA's "speaker - words").</param>
/// <param name="IsIntervalTier">True for an IntervalTier, false for a TextTier (points).</param>
/// <param name="Items">Intervals (start, end, text); points have start == end.</param>
public sealed record TextGridTier(string Name, bool IsIntervalTier, IReadOnlyList<(double StartMs, double EndMs, string Text, int Line)> Items);

/// <summary>
/// Reads Praat TextGrid files as Montreal Forced Aligner writes them, in the long ("xmin = 0") and
/// the short (values only) text formats, UTF-8 or UTF-16, LF or CRLF line ends.
/// </summary>
/// <remarks>
/// Both text formats carry the same sequence of values (numbers, strings, &lt;exists&gt; flags); the long
/// format only adds labels ("xmin =", "intervals [3]:"). The reader tokenises values and skips labels,
/// bracketed indices and "!" comments, so one parser reads both, with the line of every value kept
/// for errors. The binary format is refused by name.
/// </remarks>
public static class TextGridReader
{
    /// <summary>Reads every tier of a TextGrid file.</summary>
    /// <exception cref="LabelFormatException">The file is not a text TextGrid or a value is missing or wrong; names the line.</exception>
    public static IReadOnlyList<TextGridTier> ReadTiers(string path) => ParseTiers(path, ReadText(path));

    /// <summary>Reads the word tier (by name: exactly <paramref name="tierName"/> or MFA's "&lt;speaker&gt; - <paramref name="tierName"/>"), dropping silences and empty intervals.</summary>
    /// <exception cref="LabelFormatException">No such tier (the message lists the tiers), a point tier, or malformed content.</exception>
    public static WordAlignment ReadWords(string path, string tierName = "words") => WordsOf(path, ParseTiers(path, ReadText(path)), tierName, out _);

    /// <summary>As <see cref="ReadWords(string, string)"/> for TextGrid text already in memory; <paramref name="path"/> only names it in errors.</summary>
    public static WordAlignment ParseWords(string path, string text, string tierName = "words") => WordsOf(path, ParseTiers(path, text), tierName, out _);

    /// <summary>
    /// As <see cref="ReadWords(string, string)"/>, and the speaker the word tier names: MFA calls a speaker's tiers "&lt;speaker&gt; - words"
    /// and "&lt;speaker&gt; - phones" (null when the tier is named plainly). With several speaker tiers the first is read.
    /// </summary>
    public static WordAlignment ReadWords(string path, string tierName, out string? speaker) => WordsOf(path, ParseTiers(path, ReadText(path)), tierName, out speaker);

    private static WordAlignment WordsOf(string path, IReadOnlyList<TextGridTier> tiers, string tierName, out string? speaker)
    {
        TextGridTier? tier = tiers.FirstOrDefault(t => t.Name == tierName)
            ?? tiers.FirstOrDefault(t => t.Name.EndsWith(" - " + tierName, StringComparison.Ordinal));
        speaker = tier is not null && tier.Name.EndsWith(" - " + tierName, StringComparison.Ordinal) ? tier.Name[..^(" - " + tierName).Length].Trim() : null;
        speaker = string.IsNullOrEmpty(speaker) ? null : speaker;
        if (tier is null)
        {
            throw new LabelFormatException(path, 0, $"no tier named '{tierName}'; the tiers are: {string.Join(", ", tiers.Select(t => "'" + t.Name + "'"))}.");
        }

        if (!tier.IsIntervalTier)
        {
            throw new LabelFormatException(path, 0, $"tier '{tier.Name}' is a point tier (TextTier); word intervals need an IntervalTier.");
        }

        var words = new List<WordSpan>();
        foreach ((double s, double e, string text, int line) in tier.Items)
        {
            string w = text.Trim();
            if (WordIntervalRules.IsSilence(w))
            {
                continue;
            }

            var span = new WordSpan(w, s, e);
            WordIntervalRules.CheckOrder(path, line, words.Count > 0 ? words[^1] : null, span);
            words.Add(span);
        }

        return new WordAlignment(Path.GetFileNameWithoutExtension(path), words, new LabelSource(LabelKinds.Import, "praat-textgrid"));
    }

    private static string ReadText(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().StartsWith("ooBinaryFile"u8))
        {
            throw new LabelFormatException(path, 1, "this is a binary Praat file; save it as a text TextGrid (long or short format).");
        }

        // Praat writes UTF-16 with a BOM when a label needs it; StreamReader detects the BOM.
        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static IReadOnlyList<TextGridTier> ParseTiers(string path, string text)
    {
        var t = new Tokens(path, Tokenise(path, text));
        // Praat writes "ooTextFile" for both text formats; versions before 5 wrote "ooTextFile short" for the short one.
        string fileType = t.String("the file type (\"ooTextFile\")");
        if (fileType is not ("ooTextFile" or "ooTextFile short"))
        {
            throw new LabelFormatException(path, t.LastLine, $"file type is \"{fileType}\", expected \"ooTextFile\".");
        }

        string objectClass = t.String("the object class (\"TextGrid\")");
        if (objectClass != "TextGrid")
        {
            throw new LabelFormatException(path, t.LastLine, $"object class is \"{objectClass}\", expected \"TextGrid\".");
        }

        t.Number("the TextGrid xmin");
        t.Number("the TextGrid xmax");
        if (!t.Flag("<exists> or <absent>"))
        {
            return [];
        }

        int tierCount = t.Count("the number of tiers");
        var tiers = new List<TextGridTier>(tierCount);
        for (int i = 0; i < tierCount; i++)
        {
            string cls = t.String($"the class of tier {i + 1}");
            string name = t.String($"the name of tier {i + 1}");
            t.Number($"xmin of tier '{name}'");
            t.Number($"xmax of tier '{name}'");
            int n = t.Count($"the item count of tier '{name}'");
            var items = new List<(double, double, string, int)>(n);
            bool interval = cls switch
            {
                "IntervalTier" => true,
                "TextTier" => false,
                _ => throw new LabelFormatException(path, t.LastLine, $"tier {i + 1} has class \"{cls}\"; expected \"IntervalTier\" or \"TextTier\"."),
            };
            for (int k = 0; k < n; k++)
            {
                if (interval)
                {
                    double s = t.Number($"xmin of interval {k + 1} of tier '{name}'");
                    int line = t.LastLine;
                    double e = t.Number($"xmax of interval {k + 1} of tier '{name}'");
                    string label = t.String($"text of interval {k + 1} of tier '{name}'");
                    if (e < s)
                    {
                        throw new LabelFormatException(path, line, $"interval {k + 1} of tier '{name}' ends ({e} s) before it starts ({s} s).");
                    }

                    items.Add((s * 1000, e * 1000, label, line));
                }
                else
                {
                    double p = t.Number($"time of point {k + 1} of tier '{name}'");
                    int line = t.LastLine;
                    string mark = t.String($"mark of point {k + 1} of tier '{name}'");
                    items.Add((p * 1000, p * 1000, mark, line));
                }
            }

            tiers.Add(new TextGridTier(name, interval, items));
        }

        return tiers;
    }

    private enum Kind
    {
        Number,
        String,
        Flag,
    }

    private readonly record struct Token(Kind Kind, string Text, int Line);

    private static List<Token> Tokenise(string path, string s)
    {
        var tokens = new List<Token>();
        int line = 1;
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\n')
            {
                line++;
                i++;
            }
            else if (char.IsWhiteSpace(c) || c == '=' || c == ':' || c == '?')
            {
                i++;
            }
            else if (c == '!')
            {
                // Comment to the end of the line.
                while (i < s.Length && s[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '"')
            {
                int startLine = line;
                var sb = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= s.Length)
                    {
                        throw new LabelFormatException(path, startLine, "a string starting here is never closed (missing '\"').");
                    }

                    if (s[i] == '"')
                    {
                        // A doubled quote is a literal quote.
                        if (i + 1 < s.Length && s[i + 1] == '"')
                        {
                            sb.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (s[i] == '\n')
                    {
                        line++;
                    }

                    sb.Append(s[i++]);
                }

                tokens.Add(new Token(Kind.String, sb.ToString(), startLine));
            }
            else if (c == '<')
            {
                int end = s.IndexOf('>', i);
                if (end < 0)
                {
                    throw new LabelFormatException(path, line, "a '<' flag is never closed with '>'.");
                }

                tokens.Add(new Token(Kind.Flag, s[i..(end + 1)], line));
                i = end + 1;
            }
            else if (c == '[')
            {
                // Indices of the long format ("item [1]:", "intervals [3]:") are labels, not values.
                int end = s.IndexOf(']', i);
                if (end < 0)
                {
                    throw new LabelFormatException(path, line, "a '[' index is never closed with ']'.");
                }

                i = end + 1;
            }
            else if (char.IsDigit(c) || c is '-' or '+' or '.')
            {
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                {
                    i++;
                }

                tokens.Add(new Token(Kind.Number, s[start..i], line));
            }
            else if (char.IsLetter(c) || c == '_')
            {
                // A label of the long format ("xmin", "intervals", "size", "class", "File type").
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_'))
                {
                    i++;
                }
            }
            else
            {
                throw new LabelFormatException(path, line, $"unexpected character '{c}' (TextGrid text holds numbers, \"strings\", <flags> and labels).");
            }
        }

        return tokens;
    }

    private sealed class Tokens(string path, List<Token> tokens)
    {
        private int _next;

        public int LastLine { get; private set; } = 1;

        public string String(string what) => Take(Kind.String, what).Text;

        public double Number(string what)
        {
            Token t = Take(Kind.Number, what);
            if (!double.TryParse(t.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            {
                throw new LabelFormatException(path, t.Line, $"{what} is '{t.Text}', which is not a number.");
            }

            return v;
        }

        public int Count(string what)
        {
            double v = Number(what);
            if (v < 0 || v != Math.Floor(v) || v > 10_000_000)
            {
                throw new LabelFormatException(path, LastLine, $"{what} is {v}; expected a whole number >= 0.");
            }

            return (int)v;
        }

        public bool Flag(string what)
        {
            Token t = Take(Kind.Flag, what);
            return t.Text switch
            {
                "<exists>" => true,
                "<absent>" => false,
                _ => throw new LabelFormatException(path, t.Line, $"expected {what}, found {t.Text}."),
            };
        }

        private Token Take(Kind kind, string what)
        {
            if (_next >= tokens.Count)
            {
                throw new LabelFormatException(path, LastLine, $"the file ends where {what} was expected (truncated TextGrid?).");
            }

            Token t = tokens[_next++];
            LastLine = t.Line;
            if (t.Kind != kind)
            {
                string found = t.Kind switch { Kind.String => $"the string \"{t.Text}\"", Kind.Flag => t.Text, _ => $"the number {t.Text}" };
                throw new LabelFormatException(path, t.Line, $"expected {what} ({kind.ToString().ToLowerInvariant()}), found {found}.");
            }

            return t;
        }
    }
}
