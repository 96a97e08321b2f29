using System.Text.RegularExpressions;

namespace EdgeKws.Labeling.Alignment;

/// <summary>
/// Near-miss phrases of a wake phrase, the competitors of <see cref="PocketSphinxAligner.CompeteAsync"/>: the wake phrase
/// with its last word replaced by a dictionary word one phone away at the edges of the word.
/// </summary>
/// <remarks>
/// <para>Which neighbours (measured, docs/labeling.md): a consonant inserted before the word ("edge" -> "hedge", "ledge",
/// "wedge", "sedge") and the last phone replaced ("edge" -> "ed", "egg", "etch"). Words that only extend the word
/// ("edged", "edgy") are left out: the release burst and breath after a true "edge" fit a trailing D or IY better, so true
/// triggers lost to them. Only the last word is varied: openers such as "hey" are short and reduced in connected speech
/// ("hey" lost to "hi", "he", "hu" on true triggers), and near misses differ in the content word.</para>
/// <para>Homophones of the wake word are excluded (they cannot lose). Callers add their own phrases (e.g. "hay edgar").</para>
/// </remarks>
public static partial class NearMisses
{
    /// <summary>Most neighbours generated per wake phrase: every alternative widens the search and adds a chance to steal a true trigger.</summary>
    public const int DefaultMax = 16;

    /// <summary>Near-miss phrases of <paramref name="wakePhrase"/> from <paramref name="lexicon"/>, in a stable order (edit kind, then word).</summary>
    public static IReadOnlyList<string> Generate(string wakePhrase, PronunciationLexicon lexicon, int max = DefaultMax)
    {
        ArgumentNullException.ThrowIfNull(lexicon);
        IReadOnlyList<string> words = PocketSphinxAligner.Normalise(wakePhrase);
        if (words.Count == 0 || max <= 0)
        {
            return [];
        }

        string last = words[^1];
        if (!lexicon.TryGetPhones(last, out IReadOnlyList<string> variants))
        {
            return [];
        }

        var own = new HashSet<string>(variants, StringComparer.Ordinal);
        var found = new SortedSet<(int Kind, string Word)>();
        foreach ((string word, IReadOnlyList<string> prons) in lexicon.Entries)
        {
            if (word == last || word.Length < 2 || !Letters().IsMatch(word) || prons.Any(own.Contains))
            {
                continue;
            }

            foreach (string v in variants)
            {
                string[] p = v.Split(' ');
                string[] q = prons[0].Split(' ');
                if (q.Length == p.Length + 1 && q.AsSpan(1).SequenceEqual(p))
                {
                    found.Add((0, word));
                }
                else if (q.Length == p.Length && p.Length >= 2 && q.AsSpan(0, p.Length - 1).SequenceEqual(p.AsSpan(0, p.Length - 1)))
                {
                    found.Add((1, word));
                }
            }
        }

        string prefix = string.Join(' ', words.Take(words.Count - 1));
        return [.. found.DistinctBy(f => f.Word).Take(max).Select(f => prefix.Length == 0 ? f.Word : prefix + " " + f.Word)];
    }

    [GeneratedRegex("^[a-z]+$")]
    private static partial Regex Letters();
}
