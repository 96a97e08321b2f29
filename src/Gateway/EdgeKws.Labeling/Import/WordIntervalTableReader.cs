using System.Globalization;
using System.Text.Json;

namespace EdgeKws.Labeling.Import;

/// <summary>
/// Reads the simple interchange formats for word intervals: CSV with a header and JSON.
/// </summary>
/// <remarks>
/// CSV: a header naming the columns, then one word per row. Required: <c>word</c> and either
/// <c>start_ms,end_ms</c> (milliseconds) or <c>start,end</c> (seconds); optional <c>confidence</c>
/// (0..1) and <c>utterance</c> (rows grouped by it; default: the file name). Fields may be quoted
/// ("a, b"). JSON: either an array of words or an object with a <c>words</c> array (and optionally
/// <c>utterance</c>); each word is <c>{"word": "...", "startMs": n, "endMs": n, "confidence": n?}</c>,
/// the shape the corpus generator's sidecars use.
/// </remarks>
public static class WordIntervalTableReader
{
    /// <summary>Reads a CSV of word intervals.</summary>
    /// <exception cref="LabelFormatException">Missing columns, bad numbers, overlapping words; names the line.</exception>
    public static IReadOnlyList<WordAlignment> ReadCsv(string path)
    {
        string[] lines = File.ReadAllLines(path);
        int headerIndex = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (headerIndex < 0)
        {
            throw new LabelFormatException(path, 0, "the file is empty; expected a header such as 'word,start_ms,end_ms'.");
        }

        string[] header = [.. SplitCsv(path, headerIndex + 1, lines[headerIndex]).Select(h => h.Trim().ToLowerInvariant())];
        int word = Array.IndexOf(header, "word");
        int startMs = Array.IndexOf(header, "start_ms"), endMs = Array.IndexOf(header, "end_ms");
        int startS = Array.IndexOf(header, "start"), endS = Array.IndexOf(header, "end");
        int conf = Array.IndexOf(header, "confidence"), utt = Array.IndexOf(header, "utterance");
        bool ms = startMs >= 0 && endMs >= 0;
        if (word < 0 || (!ms && (startS < 0 || endS < 0)))
        {
            throw new LabelFormatException(path, headerIndex + 1, $"the header must name 'word' and 'start_ms,end_ms' (or 'start,end' in seconds); it is '{lines[headerIndex]}'.");
        }

        string defaultUtt = Path.GetFileNameWithoutExtension(path);
        var order = new List<string>();
        var byUtt = new Dictionary<string, List<WordSpan>>(StringComparer.Ordinal);
        for (int i = headerIndex + 1; i < lines.Length; i++)
        {
            int line = i + 1;
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }

            string[] f = SplitCsv(path, line, lines[i]);
            if (f.Length != header.Length)
            {
                throw new LabelFormatException(path, line, $"row has {f.Length} fields; the header has {header.Length}.");
            }

            double scale = ms ? 1 : 1000;
            double s = Number(path, line, f[ms ? startMs : startS], header[ms ? startMs : startS]) * scale;
            double e = Number(path, line, f[ms ? endMs : endS], header[ms ? endMs : endS]) * scale;
            double? c = conf >= 0 && f[conf].Trim().Length > 0 ? Number(path, line, f[conf], "confidence") : null;
            if (c is < 0 or > 1)
            {
                throw new LabelFormatException(path, line, $"confidence must be in 0..1; got {c}.");
            }

            string w = f[word].Trim();
            if (w.Length == 0)
            {
                throw new LabelFormatException(path, line, "the word is empty.");
            }

            WordIntervalRules.Check(path, line, w, s, e);
            string u = utt >= 0 ? f[utt].Trim() : defaultUtt;
            if (!byUtt.TryGetValue(u, out List<WordSpan>? list))
            {
                byUtt[u] = list = [];
                order.Add(u);
            }

            var span = new WordSpan(w, s, e, c);
            WordIntervalRules.CheckOrder(path, line, list.Count > 0 ? list[^1] : null, span);
            list.Add(span);
        }

        return [.. order.Select(u => new WordAlignment(u, byUtt[u], new LabelSource(LabelKinds.Import, "csv")))];
    }

    /// <summary>Reads a JSON file of word intervals (an array, or an object with <c>words</c>).</summary>
    /// <exception cref="LabelFormatException">Invalid JSON or a word without the required fields; names the line.</exception>
    public static WordAlignment ReadJson(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new LabelFormatException(path, (int)(e.LineNumber ?? -1) + 1, $"invalid JSON: {e.Message}");
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            string utterance = Path.GetFileNameWithoutExtension(path);
            JsonElement words;
            if (root.ValueKind == JsonValueKind.Array)
            {
                words = root;
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("words", out words) && words.ValueKind == JsonValueKind.Array)
            {
                if (root.TryGetProperty("utterance", out JsonElement u) && u.ValueKind == JsonValueKind.String)
                {
                    utterance = u.GetString()!;
                }
            }
            else
            {
                throw new LabelFormatException(path, 1, "expected an array of words or an object with a \"words\" array.");
            }

            var list = new List<WordSpan>();
            List<long> offsets = WordOffsets(bytes, root.ValueKind == JsonValueKind.Array);
            int index = 0;
            foreach (JsonElement w in words.EnumerateArray())
            {
                index++;
                int line = LineAt(bytes, offsets, index - 1);
                if (w.ValueKind != JsonValueKind.Object
                    || !w.TryGetProperty("word", out JsonElement word) || word.ValueKind != JsonValueKind.String
                    || !w.TryGetProperty("startMs", out JsonElement s) || s.ValueKind != JsonValueKind.Number
                    || !w.TryGetProperty("endMs", out JsonElement e) || e.ValueKind != JsonValueKind.Number)
                {
                    throw new LabelFormatException(path, line, $"word {index} needs \"word\" (string), \"startMs\" and \"endMs\" (numbers).");
                }

                double? conf = w.TryGetProperty("confidence", out JsonElement c) && c.ValueKind == JsonValueKind.Number ? c.GetDouble() : null;
                if (conf is < 0 or > 1)
                {
                    throw new LabelFormatException(path, line, $"word {index} has confidence {conf}; expected 0..1.");
                }

                var span = new WordSpan(word.GetString()!, s.GetDouble(), e.GetDouble(), conf);
                WordIntervalRules.Check(path, line, span.Word, span.StartMs, span.EndMs);
                WordIntervalRules.CheckOrder(path, line, list.Count > 0 ? list[^1] : null, span);
                list.Add(span);
            }

            return new WordAlignment(utterance, list, new LabelSource(LabelKinds.Import, "json"));
        }
    }

    // JsonElement does not expose its position: a reader pass records the byte offset of each word object.
    private static List<long> WordOffsets(byte[] bytes, bool rootIsArray)
    {
        var offsets = new List<long>();
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        bool inWords = rootIsArray;
        int arrayDepth = rootIsArray ? 0 : 1;
        while (reader.Read())
        {
            if (!rootIsArray && reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
            {
                inWords = reader.ValueTextEquals("words"u8);
            }
            else if (inWords && reader.CurrentDepth == arrayDepth + 1 && reader.TokenType is not JsonTokenType.EndArray and not JsonTokenType.EndObject)
            {
                offsets.Add(reader.TokenStartIndex);
                reader.Skip();
            }
        }

        return offsets;
    }

    private static int LineAt(byte[] bytes, List<long> offsets, int index) =>
        index < offsets.Count ? 1 + bytes.AsSpan(0, (int)offsets[index]).Count((byte)'\n') : 0;

    private static double Number(string path, int line, string text, string column) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v
            : throw new LabelFormatException(path, line, $"column '{column}' holds '{text}', which is not a number.");

    internal static string[] SplitCsv(string path, int line, string text)
    {
        var fields = new List<string>();
        var sb = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    sb.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    sb.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        if (quoted)
        {
            throw new LabelFormatException(path, line, "a quoted field is never closed.");
        }

        fields.Add(sb.ToString());
        return [.. fields];
    }
}
