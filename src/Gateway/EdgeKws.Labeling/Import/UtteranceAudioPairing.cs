namespace EdgeKws.Labeling.Import;

/// <summary>
/// Pairs an aligned utterance with its audio file: the <c>.wav</c> under the audio directory named as the utterance id (or the
/// alignment file); when several share the name, the one in the alignment file's relative directory (MFA mirrors the corpus layout).
/// </summary>
internal sealed class UtteranceAudioPairing
{
    private readonly string _audioDirectory;
    private readonly Dictionary<string, List<string>> _audioByStem;

    /// <summary>Indexes every <c>.wav</c> under <paramref name="audioDirectory"/> by file name without extension.</summary>
    public UtteranceAudioPairing(string audioDirectory)
    {
        _audioDirectory = audioDirectory;
        _audioByStem = System.IO.Directory.EnumerateFiles(audioDirectory, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
            .GroupBy(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);
    }

    /// <summary>The audio file of <paramref name="u"/>, or false with why there is none or no single one.</summary>
    public bool TryPair(AlignedUtterance u, out string? wav, out string? why)
    {
        wav = null;
        why = null;
        if (!_audioByStem.TryGetValue(u.Id, out List<string>? candidates))
        {
            why = $"utterance '{u.Id}': no audio file '{u.Id}.wav' under the audio directory";
            return false;
        }

        if (candidates.Count > 1)
        {
            // Same relative directory as the alignment file decides (MFA mirrors the corpus layout).
            string dir = Path.GetDirectoryName(u.AlignmentFile) ?? "";
            var same = candidates.Where(c => string.Equals(Path.GetDirectoryName(AlignedCorpusImporter.Relative(_audioDirectory, c)) ?? "", dir, StringComparison.Ordinal)).ToList();
            if (same.Count != 1)
            {
                why = $"utterance '{u.Id}': {candidates.Count} audio files are named '{u.Id}.wav' and the alignment's directory does not pick one";
                return false;
            }

            candidates = same;
        }

        wav = candidates[0];
        return true;
    }
}
