using System.Text;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Labeling.Alignment;

/// <summary>How a word's pronunciation was found.</summary>
public enum PronunciationMethod
{
    /// <summary>From the CMU pronouncing dictionary that ships with pocketsphinx-en-us.</summary>
    Dictionary,

    /// <summary>Letter-to-sound by espeak-ng (<c>espeak-ng -q --ipa -v en-us</c>), IPA mapped to the CMU (ARPAbet) phone set.</summary>
    EspeakLetterToSound,

    /// <summary>Spelled out letter by letter with the dictionary's letter names (last resort).</summary>
    Spelled,
}

/// <summary>A word's phone strings (ARPAbet, no stress) and how they were found.</summary>
/// <param name="Word">The word.</param>
/// <param name="Variants">One or more phone sequences (alternative pronunciations).</param>
/// <param name="Method">Where they came from.</param>
public sealed record Pronunciation(string Word, IReadOnlyList<string> Variants, PronunciationMethod Method);

/// <summary>
/// Pronunciations for the aligner: the CMU dictionary first; for words it lacks (custom wake words
/// such as "edgekws"), espeak-ng's letter-to-sound in IPA mapped to ARPAbet; if espeak-ng is missing or
/// gives a symbol the map does not know, the word is spelled with the dictionary's letter names.
/// </summary>
/// <remarks>Loads the dictionary once (about 135,000 entries, 4 MB); thread-safe for lookups; caches generated entries.</remarks>
public sealed class PronunciationLexicon
{
    /// <summary>Where Debian's pocketsphinx-en-us puts the CMU dictionary.</summary>
    public const string DefaultDictionaryPath = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict";

    // IPA (as espeak-ng -q --ipa -v en-us writes it) to ARPAbet. Longest symbols are matched first.
    private static readonly (string Ipa, string Arpa)[] IpaMap =
    [
        ("tʃ", "CH"), ("dʒ", "JH"), ("eɪ", "EY"), ("aɪ", "AY"), ("aʊ", "AW"), ("oʊ", "OW"), ("ɔɪ", "OY"),
        ("ɜː", "ER"), ("ɑː", "AA"), ("ɔː", "AO"), ("iː", "IY"), ("uː", "UW"), ("oː", "OW"), ("əl", "AH L"),
        ("ɚ", "ER"), ("ɝ", "ER"), ("ɜ", "ER"), ("ə", "AH"), ("ɐ", "AH"), ("ʌ", "AH"), ("æ", "AE"), ("ɑ", "AA"), ("ɒ", "AA"),
        ("ɔ", "AO"), ("ɛ", "EH"), ("e", "EH"), ("ɪ", "IH"), ("ᵻ", "IH"), ("i", "IY"), ("ʊ", "UH"), ("u", "UW"), ("o", "OW"), ("a", "AA"),
        ("ɾ", "T"), ("ɹ", "R"), ("r", "R"), ("l", "L"), ("ɫ", "L"), ("m", "M"), ("n", "N"), ("ŋ", "NG"),
        ("p", "P"), ("b", "B"), ("t", "T"), ("d", "D"), ("k", "K"), ("ɡ", "G"), ("g", "G"), ("f", "F"), ("v", "V"),
        ("s", "S"), ("z", "Z"), ("h", "HH"), ("w", "W"), ("j", "Y"), ("θ", "TH"), ("ð", "DH"), ("ʃ", "SH"), ("ʒ", "ZH"),
        ("x", "K"), ("ʔ", "T"),
    ];

    private readonly Dictionary<string, List<string>> _dict;
    private readonly Dictionary<string, Pronunciation> _generated = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private PronunciationLexicon(string path, Dictionary<string, List<string>> dict)
    {
        DictionaryPath = path;
        _dict = dict;
    }

    /// <summary>The dictionary file loaded.</summary>
    public string DictionaryPath { get; }

    /// <summary>Words in the dictionary.</summary>
    public int Count => _dict.Count;

    /// <summary>Loads a CMU-format dictionary (<c>word PH ON ES</c>, alternatives as <c>word(2)</c>).</summary>
    /// <exception cref="LabelFormatException">A line has no phones; names the line.</exception>
    /// <exception cref="FileNotFoundException">The file is missing (install pocketsphinx-en-us).</exception>
    public static PronunciationLexicon Load(string path = DefaultDictionaryPath)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Pronunciation dictionary '{path}' not found; install the Debian package pocketsphinx-en-us.", path);
        }

        var dict = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        int line = 0;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            string l = raw.Trim();
            if (l.Length == 0 || l.StartsWith(";;;", StringComparison.Ordinal))
            {
                continue;
            }

            int sp = l.IndexOfAny([' ', '\t']);
            if (sp < 0)
            {
                throw new LabelFormatException(path, line, $"entry '{l}' has no phones.");
            }

            string key = l[..sp];
            int paren = key.IndexOf('(');
            if (paren > 0 && key.EndsWith(')'))
            {
                key = key[..paren];
            }

            string phones = string.Join(' ', l[(sp + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
            if (!dict.TryGetValue(key, out List<string>? list))
            {
                dict[key] = list = [];
            }

            list.Add(phones);
        }

        return new PronunciationLexicon(path, dict);
    }

    /// <summary>Every dictionary word with its pronunciations (first is the main one).</summary>
    public IEnumerable<(string Word, IReadOnlyList<string> Pronunciations)> Entries =>
        _dict.Select(e => (e.Key, (IReadOnlyList<string>)e.Value));

    /// <summary>The dictionary's pronunciations of <paramref name="word"/>; false when the dictionary lacks it.</summary>
    public bool TryGetPhones(string word, out IReadOnlyList<string> pronunciations)
    {
        bool found = _dict.TryGetValue(word, out List<string>? list);
        pronunciations = list ?? [];
        return found;
    }

    /// <summary>True when the dictionary itself has <paramref name="word"/>.</summary>
    public bool Contains(string word) => _dict.ContainsKey(word);

    /// <summary>Gets the pronunciation of one lower-case word, generating it when the dictionary lacks it.</summary>
    public async Task<Pronunciation> GetAsync(string word, CancellationToken cancellationToken = default)
    {
        if (_dict.TryGetValue(word, out List<string>? variants))
        {
            return new Pronunciation(word, variants, PronunciationMethod.Dictionary);
        }

        lock (_gate)
        {
            if (_generated.TryGetValue(word, out Pronunciation? cached))
            {
                return cached;
            }
        }

        Pronunciation p;
        string? ipa = await EspeakIpaAsync(word, cancellationToken).ConfigureAwait(false);
        if (ipa is not null && TryMapIpa(ipa, out string phones))
        {
            p = new Pronunciation(word, [phones], PronunciationMethod.EspeakLetterToSound);
        }
        else
        {
            p = new Pronunciation(word, [Spell(word)], PronunciationMethod.Spelled);
        }

        lock (_gate)
        {
            _generated[word] = p;
        }

        return p;
    }

    /// <summary>Maps espeak-ng IPA to ARPAbet; false when a symbol is not in the map (the caller falls back to spelling).</summary>
    public static bool TryMapIpa(string ipa, out string phones)
    {
        var result = new List<string>();
        // Stress, length on its own, syllable marks, ties and combining diacritics carry no phone.
        var s = new StringBuilder();
        foreach (char c in ipa.Normalize(NormalizationForm.FormD))
        {
            if (c is 'ˈ' or 'ˌ' or '.' or '‍' or '͡' or '-' || char.IsWhiteSpace(c) || System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            s.Append(c);
        }

        string t = s.ToString();
        int i = 0;
        while (i < t.Length)
        {
            bool matched = false;
            foreach ((string sym, string arpa) in IpaMap)
            {
                if (string.CompareOrdinal(t, i, sym, 0, sym.Length) == 0)
                {
                    result.Add(arpa);
                    i += sym.Length;
                    matched = true;
                    break;
                }
            }

            if (!matched)
            {
                if (t[i] == 'ː')
                {
                    i++;
                    continue;
                }

                phones = "";
                return false;
            }
        }

        phones = string.Join(' ', result);
        return result.Count > 0;
    }

    private string Spell(string word)
    {
        var phones = new List<string>();
        foreach (char c in word)
        {
            if (_dict.TryGetValue(c.ToString(), out List<string>? letter))
            {
                phones.Add(letter[0]);
            }
        }

        return phones.Count > 0 ? string.Join(' ', phones) : "AH";
    }

    private static async Task<string?> EspeakIpaAsync(string word, CancellationToken cancellationToken)
    {
        if (!ExternalProcess.TryFind("espeak-ng", out string espeak))
        {
            return null;
        }

        (int code, string stdout, _) = await ExternalProcess.RunAsync(espeak, ["-q", "--ipa", "-v", "en-us", word], TimeSpan.FromSeconds(20), cancellationToken).ConfigureAwait(false);
        string ipa = stdout.Trim();
        return code == 0 && ipa.Length > 0 ? ipa : null;
    }
}
