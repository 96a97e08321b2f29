using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Review;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Labeling.Extraction;

/// <summary>A recording with a known transcript, from which keyword clips are cut.</summary>
/// <param name="WavPath">The audio.</param>
/// <param name="SourceRecording">Stable id of the recording (e.g. its corpus-relative path).</param>
/// <param name="Transcript">What is said.</param>
public sealed record TranscribedRecording(string WavPath, string SourceRecording, string Transcript);

/// <summary>Counts of one extraction run.</summary>
/// <param name="Recordings">Recordings processed.</param>
/// <param name="KeywordOccurrences">Keyword occurrences in the transcripts.</param>
/// <param name="Accepted">Clips that passed every filter.</param>
/// <param name="Review">Borderline clips queued for review.</param>
/// <param name="Rejected">Clips that failed a filter (queued with the reason).</param>
/// <param name="NotAligned">Recordings the aligner could not align (each queued once, with the reason).</param>
public sealed record ExtractionCounts(int Recordings, int KeywordOccurrences, int Accepted, int Review, int Rejected, int NotAligned)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Recordings} recordings, {KeywordOccurrences} keyword occurrences: {Accepted} accepted, {Review} to review, {Rejected} rejected (queued with reason), {NotAligned} recordings not aligned";
}

/// <summary>
/// Align, cut, filter, queue: aligns each transcript with the built-in aligner, finds the keyword
/// phrases in it (a phrase = consecutive aligned words; its confidence is the lowest of its words),
/// cuts MSWC-style clips, writes accepted clips under <c>accepted/&lt;keyword&gt;/</c> and the rest under
/// <c>review/</c>, and puts every non-accepted clip into the review queue with its reason.
/// </summary>
public sealed class KeywordExtractionPipeline(PocketSphinxAligner aligner, KeywordClipExtractor extractor, IReviewQueue queue, string clipDirectory)
{
    /// <summary>Accepted clips of the last run.</summary>
    public List<ExtractedClip> AcceptedClips { get; } = [];

    /// <summary>Runs over <paramref name="recordings"/> for <paramref name="keywords"/>.</summary>
    public async Task<ExtractionCounts> RunAsync(IEnumerable<TranscribedRecording> recordings, IReadOnlyList<string> keywords, CancellationToken cancellationToken = default)
    {
        int n = 0, occurrences = 0, accepted = 0, review = 0, rejected = 0, notAligned = 0;
        AcceptedClips.Clear();
        string[][] phrases = [.. keywords.Select(k => PocketSphinxAligner.Normalise(k).ToArray())];
        foreach (TranscribedRecording rec in recordings)
        {
            n++;
            IReadOnlyList<string> words = PocketSphinxAligner.Normalise(rec.Transcript);
            var found = new List<(int Index, string[] Phrase)>();
            for (int i = 0; i < words.Count; i++)
            {
                foreach (string[] p in phrases)
                {
                    if (i + p.Length <= words.Count && p.SequenceEqual(words.Skip(i).Take(p.Length)))
                    {
                        found.Add((i, p));
                    }
                }
            }

            if (found.Count == 0)
            {
                continue;
            }

            occurrences += found.Count;
            AlignmentResult a = await aligner.AlignAsync(rec.WavPath, rec.Transcript, cancellationToken).ConfigureAwait(false);
            if (!a.Succeeded)
            {
                notAligned++;
                queue.Enqueue(new ReviewItem(0, rec.SourceRecording + "#unaligned", ReviewSubject.KeywordClip, rec.SourceRecording, rec.WavPath,
                    string.Join(',', found.Select(f => string.Join(' ', f.Phrase))), 0, 0, "not aligned: " + a.Problem, a.Source));
                continue;
            }

            float[] audio = ReadMono16k(rec.WavPath);
            foreach ((int index, string[] phrase) in found)
            {
                IEnumerable<WordSpan> span = a.Words.Skip(index).Take(phrase.Length);
                var word = new WordSpan(string.Join(' ', phrase), a.Words[index].StartMs, a.Words[index + phrase.Length - 1].EndMs, span.Min(w => w.Confidence));
                ExtractedClip clip = extractor.Extract(audio, rec.SourceRecording, word, a.Source with { Confidence = word.Confidence });
                string folder = clip.Outcome == ClipOutcome.Accepted ? Path.Combine("accepted", word.Word.Replace(' ', '_')) : "review";
                string file = Path.Combine(clipDirectory, folder, SafeName(clip.ClipId) + ".wav");
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                WavFile.Write(file, clip.Samples, KeywordClipExtractor.SampleRateHz, WavSampleFormat.Pcm16);
                switch (clip.Outcome)
                {
                    case ClipOutcome.Accepted:
                        accepted++;
                        AcceptedClips.Add(clip);
                        break;
                    case ClipOutcome.Review:
                        review++;
                        break;
                    default:
                        rejected++;
                        break;
                }

                if (clip.Outcome != ClipOutcome.Accepted)
                {
                    queue.Enqueue(new ReviewItem(0, clip.ClipId, ReviewSubject.KeywordClip, rec.SourceRecording, file, word.Word, word.StartMs, word.EndMs,
                        (clip.Outcome == ClipOutcome.Rejected ? "rejected: " : "review: ") + clip.Reason, clip.Source));
                }
            }
        }

        return new ExtractionCounts(n, occurrences, accepted, review, rejected, notAligned);
    }

    /// <summary>Reads a whole WAV file as 16 kHz mono floats (resampled with the project's resampler when needed).</summary>
    public static float[] ReadMono16k(string path)
    {
        using var source = new AudioFileSource(path, KeywordClipExtractor.SampleRateHz);
        var all = new List<float>((int)Math.Min(source.OutputSampleCount + 16, 16_000 * 600));
        float[] block = new float[8192];
        int got;
        while ((got = source.Read(block)) > 0)
        {
            all.AddRange(block.AsSpan(0, got));
        }

        return [.. all];
    }

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '@' ? c : '_'));
}
