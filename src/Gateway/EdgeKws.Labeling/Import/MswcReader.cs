namespace EdgeKws.Labeling.Import;

/// <summary>
/// Reads a Multilingual Spoken Words Corpus style layout: <c>clips/&lt;word&gt;/&lt;name&gt;.wav</c> (1 s
/// keyword clips), a splits CSV with MSWC's header <c>SET,LINK,WORD,VALID,SPEAKER,GENDER</c> (SET is
/// TRAIN, DEV or TEST; LINK is the clip path under <c>clips/</c>; VALID is True or False), and
/// optionally <c>alignments/&lt;word&gt;/&lt;name&gt;.TextGrid</c> with the word's interval in the clip.
/// </summary>
/// <remarks>
/// MSWC ships 48 kHz Opus; this library decodes WAV only, so a LINK ending in <c>.opus</c> is read as
/// the <c>.wav</c> with the same stem (convert first, e.g. <c>sox x.opus -r 16000 x.wav</c>). Rows with
/// VALID=False are skipped, as MSWC's own loaders do.
/// </remarks>
public static class MswcReader
{
    /// <summary>Reads the clips listed in <paramref name="splitsCsv"/> (default: the single <c>*splits.csv</c> under <paramref name="root"/>).</summary>
    /// <exception cref="LabelFormatException">Wrong header, unknown SET, missing clip, malformed alignment; names the file and line.</exception>
    public static IReadOnlyList<LabeledClip> Read(string root, string? splitsCsv = null)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"MSWC root '{root}' does not exist.");
        }

        if (splitsCsv is null)
        {
            string[] found = Directory.GetFiles(root, "*splits.csv");
            splitsCsv = found.Length == 1
                ? found[0]
                : throw new LabelFormatException(root, 0, found.Length == 0 ? "no '*splits.csv' file in the root." : $"several splits files ({string.Join(", ", found.Select(Path.GetFileName))}); name one.");
        }

        string[] lines = File.ReadAllLines(splitsCsv);
        if (lines.Length == 0)
        {
            throw new LabelFormatException(splitsCsv, 0, "the file is empty; expected the header SET,LINK,WORD,VALID,SPEAKER,GENDER.");
        }

        string[] header = [.. WordIntervalTableReader.SplitCsv(splitsCsv, 1, lines[0]).Select(h => h.Trim().ToUpperInvariant())];
        int set = Array.IndexOf(header, "SET"), link = Array.IndexOf(header, "LINK"), word = Array.IndexOf(header, "WORD");
        int valid = Array.IndexOf(header, "VALID"), speaker = Array.IndexOf(header, "SPEAKER");
        if (set < 0 || link < 0 || word < 0 || speaker < 0)
        {
            throw new LabelFormatException(splitsCsv, 1, $"the header must name SET, LINK, WORD and SPEAKER (MSWC: SET,LINK,WORD,VALID,SPEAKER,GENDER); it is '{lines[0]}'.");
        }

        var clips = new List<LabeledClip>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 1; i < lines.Length; i++)
        {
            int line = i + 1;
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }

            string[] f = WordIntervalTableReader.SplitCsv(splitsCsv, line, lines[i]);
            if (f.Length != header.Length)
            {
                throw new LabelFormatException(splitsCsv, line, $"row has {f.Length} fields; the header has {header.Length}.");
            }

            if (valid >= 0 && !bool.TryParse(f[valid].Trim(), out bool ok))
            {
                throw new LabelFormatException(splitsCsv, line, $"VALID is '{f[valid]}'; expected True or False.");
            }
            else if (valid >= 0 && !bool.Parse(f[valid].Trim()))
            {
                continue;
            }

            string splitName = f[set].Trim().ToUpperInvariant() switch
            {
                "TRAIN" => SplitNames.Train,
                "DEV" or "VALIDATION" => SplitNames.Validation,
                "TEST" => SplitNames.Test,
                _ => throw new LabelFormatException(splitsCsv, line, $"SET is '{f[set]}'; expected TRAIN, DEV or TEST."),
            };
            string rel = f[link].Trim().Replace('\\', '/');
            if (!seen.Add(rel))
            {
                throw new LabelFormatException(splitsCsv, line, $"'{rel}' is listed twice.");
            }

            string stemRel = rel.EndsWith(".opus", StringComparison.OrdinalIgnoreCase) ? rel[..^5] + ".wav" : rel;
            string wav = Path.Combine(root, "clips", stemRel);
            if (!File.Exists(wav))
            {
                throw new LabelFormatException(splitsCsv, line, $"clip 'clips/{stemRel}' does not exist.");
            }

            string label = f[word].Trim();
            WordSpan? span = null;
            var source = new LabelSource(LabelKinds.Import, "mswc");
            string grid = Path.Combine(root, "alignments", Path.ChangeExtension(stemRel, ".TextGrid"));
            if (File.Exists(grid))
            {
                WordAlignment a = TextGridReader.ReadWords(grid);
                span = a.Words.FirstOrDefault(w => w.Word == label)
                    ?? throw new LabelFormatException(grid, 0, $"the word tier has no interval labelled '{label}' (it has: {string.Join(", ", a.Words.Select(w => w.Word))}).");
                source = source with { Tool = "mswc+praat-textgrid" };
            }

            clips.Add(new LabeledClip(wav, stemRel, label, f[speaker].Trim(), splitName, span, source));
        }

        return clips;
    }
}
