using System.Globalization;

namespace EdgeKws.Corpus.Speakers;

/// <summary>Text-to-speech engines the generator drives (each a Debian package, run as a process).</summary>
public static class TtsEngine
{
    /// <summary>espeak-ng (formant synthesis, many voices and variants).</summary>
    public const string Espeak = "espeak";

    /// <summary>flite (CMU Flite diphone/clustergen voices).</summary>
    public const string Flite = "flite";

    /// <summary>festival (text2wave-equivalent batch scripts; diphone and HTS voices).</summary>
    public const string Festival = "festival";

    /// <summary>All engines in their fixed order.</summary>
    public static IReadOnlyList<string> All { get; } = [Espeak, Flite, Festival];
}

/// <summary>Dataset split a speaker belongs to; a speaker (and every rate/pitch variant of its voice) is in exactly one.</summary>
public static class CorpusSplit
{
    /// <summary>Training speakers.</summary>
    public const string Train = "train";

    /// <summary>Validation speakers (model selection, thresholds).</summary>
    public const string Validation = "validation";

    /// <summary>Held-out test speakers; the only ones used in evaluation streams.</summary>
    public const string Test = "test";
}

/// <summary>
/// One synthetic "speaker": an engine voice (plus espeak-ng variant) at a speaking rate and pitch.
/// <see cref="Id"/> depends only on these fields, so it is stable across runs and machines.
/// </summary>
/// <param name="Engine">One of <see cref="TtsEngine"/>.</param>
/// <param name="Voice">Engine voice name (espeak-ng language voice, flite voice, festival voice).</param>
/// <param name="Variant">espeak-ng variant (m1..m7, f1..f5) or empty.</param>
/// <param name="RatePercent">Speaking rate, 100 = the engine's default.</param>
/// <param name="PitchPercent">Base pitch, 100 = the voice's default (varied for espeak-ng and festival HTS voices).</param>
public sealed record Speaker(string Engine, string Voice, string Variant, int RatePercent, int PitchPercent)
{
    /// <summary>Stable identifier, e.g. <c>espeak-en-us+f3-r110-p85</c>.</summary>
    public string Id => string.Create(CultureInfo.InvariantCulture, $"{VoiceKey}-r{RatePercent}-p{PitchPercent}");

    /// <summary>
    /// The voice timbre without rate and pitch. Splits are made over voice keys, so the same voice at
    /// another rate or pitch can never sit in a different split (that would leak the voice).
    /// </summary>
    public string VoiceKey => Variant.Length == 0 ? $"{Engine}-{Voice}" : $"{Engine}-{Voice}+{Variant}";
}
