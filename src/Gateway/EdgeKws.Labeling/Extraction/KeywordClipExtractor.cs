using EdgeKws.Shared.Quality;

namespace EdgeKws.Labeling.Extraction;

/// <summary>What the quality filters decided about a clip.</summary>
public enum ClipOutcome
{
    /// <summary>Every filter passed: the clip is a label.</summary>
    Accepted,

    /// <summary>Borderline (alignment confidence between the thresholds): a person decides.</summary>
    Review,

    /// <summary>A filter failed; the clip still goes to the review queue with the reason (a person may rescue it), never to the bin.</summary>
    Rejected,
}

/// <summary>Quality bounds for MSWC-style extraction.</summary>
public sealed record ExtractionOptions
{
    /// <summary>Clip length (MSWC and the dataset format: 1 s).</summary>
    public int ClipMs { get; init; } = 1000;

    /// <summary>Raised-cosine fade at both clip edges, so cut edges do not click (an onset the features would learn).</summary>
    public double FadeMs { get; init; } = 10;

    /// <summary>Shortest plausible keyword; shorter usually means a misalignment.</summary>
    public double MinWordMs { get; init; } = 150;

    /// <summary>Longest word that fits: the whole word must be inside the 1 s clip.</summary>
    public double MaxWordMs { get; init; } = 1000;

    /// <summary>Lowest blind SNR (<see cref="SnrEstimator"/>) of the clip; below it, or with no estimate, the clip is rejected.</summary>
    public double MinSnrDb { get; init; } = 5;

    /// <summary>Alignment confidence at or above which a clip is accepted (imports without a confidence count as 1).</summary>
    public double AcceptConfidence { get; init; } = 0.6;

    /// <summary>Alignment confidence below which a clip is rejected; between the two it goes to review.</summary>
    public double RejectConfidence { get; init; } = 0.3;
}

/// <summary>A 1 s clip centred on a word, with the filters' decision and the label's source.</summary>
/// <param name="ClipId">Stable id: source recording + word + start.</param>
/// <param name="SourceRecording">The recording it was cut from.</param>
/// <param name="Word">The word and its interval in the source recording.</param>
/// <param name="ClipStartMs">Where the clip starts in the source (negative when padded at the start).</param>
/// <param name="Samples">16 kHz mono samples, exactly ClipMs x 16 of them.</param>
/// <param name="Source">Where the word interval came from.</param>
/// <param name="Outcome">The filters' decision.</param>
/// <param name="Reason">Why it is not accepted (null when accepted).</param>
/// <param name="SnrDb">Blind SNR estimate of the clip, if one.</param>
public sealed record ExtractedClip(string ClipId, string SourceRecording, WordSpan Word, double ClipStartMs, float[] Samples, LabelSource Source, ClipOutcome Outcome, string? Reason, double? SnrDb);

/// <summary>
/// MSWC-style keyword extraction: a fixed-length clip centred on the word's midpoint, zero-padded
/// where the recording ends, faded at both edges, then the quality filters (word duration, clipping,
/// blind SNR, alignment confidence) from <c>EdgeKws.Shared.Quality</c>.
/// </summary>
/// <remarks>Allocates the returned clip and one quality detector pair per call; not a hot path.</remarks>
public sealed class KeywordClipExtractor(ExtractionOptions? options = null)
{
    /// <summary>Sample rate of clips (the project's).</summary>
    public const int SampleRateHz = 16_000;

    /// <summary>The bounds in use.</summary>
    public ExtractionOptions Options { get; } = options ?? new ExtractionOptions();

    /// <summary>Cuts and judges the clip for <paramref name="word"/> out of <paramref name="audio"/> (16 kHz mono).</summary>
    public ExtractedClip Extract(ReadOnlySpan<float> audio, string sourceRecording, WordSpan word, LabelSource source)
    {
        int clipSamples = Options.ClipMs * SampleRateHz / 1000;
        long mid = (long)Math.Round(word.MidMs * SampleRateHz / 1000);
        long start = mid - (clipSamples / 2);
        float[] clip = new float[clipSamples];
        long from = Math.Max(0, start), to = Math.Min(audio.Length, start + clipSamples);
        if (to > from)
        {
            audio[(int)from..(int)to].CopyTo(clip.AsSpan((int)(from - start)));
        }

        ApplyFades(clip, (int)Math.Round(Options.FadeMs * SampleRateHz / 1000));

        double? snr = null;
        var snrEstimator = new SnrEstimator(SampleRateHz);
        snrEstimator.Push(clip);
        if (snrEstimator.TryGetEstimate(out SnrEstimate est))
        {
            snr = Math.Round(est.SnrDb, 2);
        }

        var clipping = new ClippingDetector();
        // Clipping is judged on the source samples of the word, before the fades.
        long ws = Math.Clamp((long)(word.StartMs * SampleRateHz / 1000), 0, audio.Length), we = Math.Clamp((long)(word.EndMs * SampleRateHz / 1000), ws, audio.Length);
        clipping.Push(audio[(int)ws..(int)we]);

        (ClipOutcome outcome, string? reason) = Judge(word, source, snr, clipping.Reading);
        string id = $"{sourceRecording}#{word.Word.Replace(' ', '_')}@{word.StartMs:0}";
        return new ExtractedClip(id, sourceRecording, word, start * 1000.0 / SampleRateHz, clip, source, outcome, reason, snr);
    }

    private (ClipOutcome, string?) Judge(WordSpan word, LabelSource source, double? snr, ClippingReading clipping)
    {
        ExtractionOptions o = Options;
        if (word.DurationMs < o.MinWordMs)
        {
            return (ClipOutcome.Rejected, $"word lasts {word.DurationMs:0} ms, under the {o.MinWordMs:0} ms minimum (likely misaligned)");
        }

        if (word.DurationMs > o.MaxWordMs)
        {
            return (ClipOutcome.Rejected, $"word lasts {word.DurationMs:0} ms, over the {o.MaxWordMs:0} ms maximum (does not fit the clip)");
        }

        if (clipping.ShowsClipping)
        {
            return (ClipOutcome.Rejected, $"clipping: {clipping.ClippedRunCount} clipped runs, {clipping.ClippedRatio:P2} of samples at full scale");
        }

        if (snr is null)
        {
            return (ClipOutcome.Rejected, "no SNR estimate: no frame rises 6 dB above the noise floor (SNR below about 5 dB, or silence)");
        }

        if (snr < o.MinSnrDb)
        {
            return (ClipOutcome.Rejected, $"SNR {snr:0.0} dB under the {o.MinSnrDb:0.0} dB minimum");
        }

        double confidence = word.Confidence ?? source.Confidence ?? 1.0;
        if (confidence < o.RejectConfidence)
        {
            return (ClipOutcome.Rejected, $"alignment confidence {confidence:0.00} under {o.RejectConfidence:0.00}");
        }

        if (confidence < o.AcceptConfidence)
        {
            return (ClipOutcome.Review, $"alignment confidence {confidence:0.00} between {o.RejectConfidence:0.00} and {o.AcceptConfidence:0.00}");
        }

        return (ClipOutcome.Accepted, null);
    }

    private static void ApplyFades(Span<float> clip, int fadeSamples)
    {
        fadeSamples = Math.Min(fadeSamples, clip.Length / 2);
        for (int i = 0; i < fadeSamples; i++)
        {
            float g = (float)(0.5 - (0.5 * Math.Cos(Math.PI * (i + 0.5) / fadeSamples)));
            clip[i] *= g;
            clip[clip.Length - 1 - i] *= g;
        }
    }
}
