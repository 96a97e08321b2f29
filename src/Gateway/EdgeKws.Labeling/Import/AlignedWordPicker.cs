using EdgeKws.Labeling.Alignment;

namespace EdgeKws.Labeling.Import;

/// <summary>A keyword found in an utterance's aligned words.</summary>
/// <param name="Span">The phrase's words, from its first interval's start to its last's end, at the least confident word's confidence.</param>
/// <param name="Keyword">The keyword as the options spell it (the dataset class).</param>
/// <param name="FirstInterval">Index of the first word interval it covers.</param>
/// <param name="LastInterval">Index of the last word interval it covers.</param>
internal readonly record struct KeywordOccurrence(WordSpan Span, string Keyword, int FirstInterval, int LastInterval);

/// <summary>
/// Picks from an utterance's aligned words what the import cuts: every keyword occurrence, and the words whose 1 s windows make
/// background examples (see <see cref="AlignedCorpusImporter"/>).
/// </summary>
internal sealed class AlignedWordPicker
{
    private readonly AlignedImportOptions _o;
    private readonly string[][] _phrases;

    /// <exception cref="ArgumentException">No keyword, or one without words.</exception>
    public AlignedWordPicker(AlignedImportOptions options)
    {
        _o = options;
        _phrases = [.. options.Keywords.Select(k => PocketSphinxAligner.Normalise(k).ToArray())];
        if (_phrases.Length == 0 || _phrases.Any(p => p.Length == 0))
        {
            throw new ArgumentException("At least one keyword with words is needed (--keyword PHRASE).");
        }
    }

    /// <summary>
    /// Every occurrence of every keyword in <paramref name="intervals"/>, in order of its first word. Phrases match whole intervals: a
    /// match starts at an interval's first word and ends at an interval's last, so "hey edge" matches the intervals "hey" + "edge" or
    /// one interval "hey edge", never half of "hey edgar".
    /// </summary>
    public List<KeywordOccurrence> FindKeywords(IReadOnlyList<WordSpan> intervals)
    {
        var tokens = new List<(string Word, int Interval, bool First, bool Last)>();
        for (int i = 0; i < intervals.Count; i++)
        {
            IReadOnlyList<string> ws = PocketSphinxAligner.Normalise(intervals[i].Word);
            for (int k = 0; k < ws.Count; k++)
            {
                tokens.Add((ws[k], i, k == 0, k == ws.Count - 1));
            }
        }

        var found = new List<KeywordOccurrence>();
        for (int t = 0; t < tokens.Count; t++)
        {
            for (int p = 0; p < _phrases.Length; p++)
            {
                string[] phrase = _phrases[p];
                if (!tokens[t].First || t + phrase.Length > tokens.Count || !tokens[t + phrase.Length - 1].Last)
                {
                    continue;
                }

                bool match = true;
                for (int k = 0; k < phrase.Length && match; k++)
                {
                    match = tokens[t + k].Word == phrase[k];
                }

                if (match)
                {
                    int first = tokens[t].Interval, last = tokens[t + phrase.Length - 1].Interval;
                    double? confidence = intervals.Skip(first).Take(last - first + 1).Select(w => w.Confidence).Min();
                    found.Add(new KeywordOccurrence(new WordSpan(string.Join(' ', phrase), intervals[first].StartMs, intervals[last].EndMs, confidence), _o.Keywords[p], first, last));
                }
            }
        }

        return found;
    }

    /// <summary>
    /// The words whose windows become background examples: a word lasting as long as a keyword may whose 1 s window holds no part of
    /// <paramref name="keywords"/>; at most <see cref="AlignedImportOptions.NegativesPerRecording"/>, spread over the candidates in time order.
    /// </summary>
    public IEnumerable<WordSpan> PickNegatives(IReadOnlyList<WordSpan> intervals, List<KeywordOccurrence> keywords)
    {
        if (_o.NegativesPerRecording <= 0)
        {
            return [];
        }

        double half = _o.Extraction.ClipMs / 2.0;
        var candidates = intervals.Where((w, i) =>
            !keywords.Any(k => i >= k.FirstInterval && i <= k.LastInterval)
            && w.DurationMs >= _o.Extraction.MinWordMs && w.DurationMs <= _o.Extraction.MaxWordMs
            && !keywords.Any(k => k.Span.StartMs < w.MidMs + half && k.Span.EndMs > w.MidMs - half)).ToList();
        int n = Math.Min(_o.NegativesPerRecording, candidates.Count);
        // Spread over the recording: the (i + 0.5) / n quantiles of the candidates in time order.
        return Enumerable.Range(0, n).Select(i => candidates[(int)((i + 0.5) * candidates.Count / n)]);
    }
}
