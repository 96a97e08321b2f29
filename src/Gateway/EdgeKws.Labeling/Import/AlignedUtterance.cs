namespace EdgeKws.Labeling.Import;

/// <summary>One utterance of an alignment file, as the aligned import reads it.</summary>
/// <param name="AlignmentFile">The alignment file, relative to the alignments directory.</param>
/// <param name="Id">The utterance id (or the alignment file's name): the audio file's name without extension.</param>
/// <param name="Words">The aligned word intervals, in time order.</param>
/// <param name="Source">Who aligned it.</param>
/// <param name="TierSpeaker">The TextGrid word tier's speaker, if the tier names one.</param>
internal sealed record AlignedUtterance(string AlignmentFile, string Id, IReadOnlyList<WordSpan> Words, LabelSource Source, string? TierSpeaker);
