namespace EdgeKws.Labeling.Import;

/// <summary>
/// The speaker of an imported recording, from <see cref="AlignedImportOptions.SpeakerSource"/>: the audio file's directory, the TextGrid
/// tier's speaker, or the speaker map file (read once, here). Speakers decide the splits, so a recording without one is skipped.
/// </summary>
internal sealed class SpeakerResolver
{
    private readonly SpeakerSource _source;
    private readonly Dictionary<string, string> _map;

    /// <exception cref="ArgumentException">The source is <see cref="SpeakerSource.Map"/> and the map file does not exist.</exception>
    /// <exception cref="LabelFormatException">The map is malformed (names the line).</exception>
    public SpeakerResolver(SpeakerSource source, string? mapPath)
    {
        if (source == SpeakerSource.Map && (mapPath is null || !File.Exists(mapPath)))
        {
            throw new ArgumentException($"The speaker map '{mapPath}' does not exist (--speaker-map FILE).");
        }

        _source = source;
        _map = source == SpeakerSource.Map ? ReadSpeakerMap(mapPath!) : [];
    }

    /// <summary>The speaker of <paramref name="u"/>, paired with <paramref name="recording"/> (relative to the audio directory); null when the map has none.</summary>
    public string? SpeakerOf(AlignedUtterance u, string recording)
    {
        string directory = Path.GetDirectoryName(recording) is { Length: > 0 } d ? Path.GetFileName(d) : "";
        return _source switch
        {
            SpeakerSource.Map => _map.GetValueOrDefault(u.Id) ?? _map.GetValueOrDefault(recording) ?? _map.GetValueOrDefault(Path.GetFileNameWithoutExtension(recording)),
            SpeakerSource.Tier when u.TierSpeaker is not null => u.TierSpeaker,
            // A file directly in the audio directory has no speaker directory: it is its own speaker (never split across).
            _ => directory.Length > 0 ? directory : "recording:" + recording,
        };
    }

    private static Dictionary<string, string> ReadSpeakerMap(string path)
    {
        string[] lines = File.ReadAllLines(path);
        int header = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (header < 0)
        {
            throw new LabelFormatException(path, 0, "the speaker map is empty; expected a header such as 'utterance,speaker'.");
        }

        string[] names = [.. lines[header].Split(',').Select(h => h.Trim().ToLowerInvariant())];
        int speaker = Array.IndexOf(names, "speaker");
        int key = new[] { "utterance", "file", "recording" }.Select(n => Array.IndexOf(names, n)).FirstOrDefault(i => i >= 0, -1);
        if (speaker < 0 || key < 0)
        {
            throw new LabelFormatException(path, header + 1, $"the header must name 'speaker' and one of 'utterance', 'file', 'recording'; it is '{lines[header]}'.");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = header + 1; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }

            string[] f = lines[i].Split(',');
            if (f.Length != names.Length || f[speaker].Trim().Length == 0 || f[key].Trim().Length == 0)
            {
                throw new LabelFormatException(path, i + 1, $"expected {names.Length} fields with a speaker and a key; the row is '{lines[i]}'.");
            }

            string k = f[key].Trim();
            if (!map.TryAdd(k, f[speaker].Trim()) && map[k] != f[speaker].Trim())
            {
                throw new LabelFormatException(path, i + 1, $"'{k}' is mapped to two speakers ('{map[k]}' and '{f[speaker].Trim()}').");
            }
        }

        return map;
    }
}
