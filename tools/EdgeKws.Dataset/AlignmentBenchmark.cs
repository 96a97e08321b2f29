using System.Globalization;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Alignment;

namespace EdgeKws.Dataset;

/// <summary>What <see cref="AlignmentBenchmark"/> aligns and how.</summary>
public sealed record AlignmentBenchmarkOptions
{
    /// <summary>Only sentences of this split (null: all).</summary>
    public string? Split { get; init; }

    /// <summary>At most this many sentences, taken round-robin over engines and speakers so a short run hears every engine (null: all).</summary>
    public int? Limit { get; init; }

    /// <summary>Align the clean reference (<c>*.clean.wav</c>, corpora made with --clean) instead of the mix.</summary>
    public bool Clean { get; init; }

    /// <summary>Sentences aligned at once (each alignment runs two decoder processes).</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>The aligner's options.</summary>
    public PocketSphinxAlignerOptions Aligner { get; init; } = new();
}

/// <summary>Boundary figures of one group of sentences, for the aligner's reported times and for the decoder's own.</summary>
/// <param name="Group">"all", "engine espeak", "room rt60>0.6s", "snr 10 dB", ...</param>
/// <param name="Reported">Figures of the aligner's reported (refined) times.</param>
/// <param name="Decoder">Figures of the decoder's own times in the same run (PocketSphinx alone).</param>
public sealed record AlignmentBenchmarkGroup(string Group, BoundaryAccuracy Reported, BoundaryAccuracy Decoder);

/// <summary>The benchmark's outcome.</summary>
/// <param name="Tool">The aligner's tool string.</param>
/// <param name="Groups">"all" first, then per engine, room class and SNR where the corpus has them.</param>
/// <param name="Skipped">Sentences left out, with why (transcript and word list disagree).</param>
public sealed record AlignmentBenchmarkReport(string Tool, IReadOnlyList<AlignmentBenchmarkGroup> Groups, IReadOnlyList<string> Skipped);

/// <summary>
/// Aligns a generated corpus's sentences, whose word times are exact by construction (word-by-word synthesis,
/// docs/corpus.md), and measures every word start and end against them: median and p90 absolute error and the share
/// within 50 ms, overall, per engine, per room class (far-field corpora) and per SNR (noisy mixes). Behind
/// <c>edgekws-dataset align-bench</c>.
/// </summary>
public static class AlignmentBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    /// <param name="corpusRoot">The corpus directory.</param>
    /// <param name="manifest">Its manifest.</param>
    /// <param name="options">Selection and aligner options.</param>
    /// <param name="progress">Called after each sentence with a short line (may be null).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public static async Task<AlignmentBenchmarkReport> RunAsync(string corpusRoot, CorpusManifest manifest, AlignmentBenchmarkOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(options);
        var engineOf = manifest.Speakers.ToDictionary(s => s.Id, s => s.Engine, StringComparer.Ordinal);
        // Round-robin over engines and speakers: the i-th sentence of every speaker before the (i+1)-th of any, the
        // engines' first speakers before their second ones, so a short --limit run hears every engine.
        var rankInEngine = manifest.Speakers.GroupBy(s => s.Engine, StringComparer.Ordinal)
            .SelectMany(g => g.Select((s, r) => (s.Id, r))).ToDictionary(x => x.Id, x => x.r, StringComparer.Ordinal);
        List<CorpusFile> sentences = [.. manifest.Files
            .Where(f => f.Kind == FileKind.Sentence && (options.Split is null || f.Split == options.Split))
            .GroupBy(f => f.Speaker ?? "", StringComparer.Ordinal)
            .SelectMany(g => g.Select((f, i) => (f, i)))
            .OrderBy(x => x.i)
            .ThenBy(x => x.f.Speaker is { } s && rankInEngine.TryGetValue(s, out int r) ? r : 0)
            .ThenBy(x => x.f.Speaker is { } s && engineOf.TryGetValue(s, out string? e) ? e : "", StringComparer.Ordinal)
            .Select(x => x.f)];
        if (options.Limit is int limit)
        {
            sentences = [.. sentences.Take(limit)];
        }

        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync(options: options.Aligner, cancellationToken: cancellationToken).ConfigureAwait(false);
        var results = new (CorpusFile File, AlignmentResult? Result, string? Skip)[sentences.Count];
        int done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, sentences.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallel), CancellationToken = cancellationToken }, async (i, ct) =>
        {
            CorpusFile f = sentences[i];
            string[] words = [.. PocketSphinxAligner.Normalise(f.Transcript)];
            string[] reference = [.. f.Words.SelectMany(w => PocketSphinxAligner.Normalise(w.Word))];
            if (!words.SequenceEqual(reference, StringComparer.Ordinal))
            {
                results[i] = (f, null, $"{f.Path}: transcript '{f.Transcript}' does not match its word list");
                return;
            }

            string wav = Path.Combine(corpusRoot, options.Clean && f.CleanPath is not null ? f.CleanPath : f.Path);
            AlignmentResult r = await aligner.AlignAsync(wav, f.Transcript, ct).ConfigureAwait(false);
            results[i] = (f, r, null);
            int n = Interlocked.Increment(ref done);
            progress?.Invoke($"{n}/{sentences.Count} {f.Path}: {(r.Succeeded ? r.Refinement : "not aligned: " + r.Problem)}");
        }).ConfigureAwait(false);

        var groups = new Dictionary<string, (BoundaryAccuracy.Builder Reported, BoundaryAccuracy.Builder Decoder)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach ((CorpusFile f, AlignmentResult? r, string? skip) in results)
        {
            if (skip is not null || r is null)
            {
                continue;
            }

            WordSpan[] truth = [.. f.Words.Select(w => new WordSpan(w.Word, w.StartMs, w.EndMs))];
            IReadOnlyList<WordSpan>? reported = r.Succeeded ? Regroup(f.Words, r.Words) : null;
            IReadOnlyList<WordSpan>? decoder = r.Succeeded ? Regroup(f.Words, r.DecoderWords ?? r.Words) : null;
            foreach (string g in GroupsOf(f, engineOf, options.Clean))
            {
                if (!groups.TryGetValue(g, out var b))
                {
                    groups[g] = b = (new BoundaryAccuracy.Builder(), new BoundaryAccuracy.Builder());
                    order.Add(g);
                }

                b.Reported.Add(truth, reported);
                b.Decoder.Add(truth, decoder);
            }
        }

        string[] sorted = [.. order.OrderBy(g => g == "all" ? "" : g, StringComparer.Ordinal)];
        return new AlignmentBenchmarkReport(aligner.ToolVersion, [.. sorted.Select(g => new AlignmentBenchmarkGroup(g, groups[g].Reported.Build(), groups[g].Decoder.Build()))],
            [.. results.Where(x => x.Skip is not null).Select(x => x.Skip!)]);
    }

    /// <summary>Writes the report as a fixed-width table.</summary>
    public static void Write(AlignmentBenchmarkReport report, TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(w);
        w.WriteLine($"aligner: {report.Tool}");
        w.WriteLine("boundary error = |aligned - exact| per word start and end; within 50 = share of boundaries within 50 ms");
        w.WriteLine($"{"group",-22} {"sentences",9} {"failed",6} {"bounds",6} {"median",8} {"p90",8} {"within 50",9} | {"decoder alone: median",21} {"p90",8} {"within 50",9}");
        foreach (AlignmentBenchmarkGroup g in report.Groups)
        {
            BoundaryAccuracy a = g.Reported, d = g.Decoder;
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{g.Group,-22} {a.Utterances,9} {a.UtterancesFailed,6} {a.Boundaries,6} {a.MedianErrorMs,6:0.0}ms {a.P90ErrorMs,6:0.0}ms {a.BoundaryShareWithin50Ms * 100,8:0.0}% | {d.MedianErrorMs,19:0.0}ms {d.P90ErrorMs,6:0.0}ms {d.BoundaryShareWithin50Ms * 100,8:0.0}%"));
        }

        foreach (string s in report.Skipped)
        {
            w.WriteLine("skipped: " + s);
        }
    }

    private static IEnumerable<string> GroupsOf(CorpusFile f, Dictionary<string, string> engineOf, bool clean)
    {
        yield return "all";
        if (f.Speaker is not null && engineOf.TryGetValue(f.Speaker, out string? engine))
        {
            yield return "engine " + engine;
        }

        if (f.RoomClass is not null)
        {
            yield return "room " + f.RoomClass;
        }

        if (!clean && f.SnrDb is double snr)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"snr {snr:0} dB");
        }
    }

    // A reference "word" may be a phrase synthesised as one chunk ("hey edge"): it spans that many aligned words.
    private static List<WordSpan> Regroup(IReadOnlyList<WordInterval> reference, IReadOnlyList<WordSpan> aligned)
    {
        var result = new List<WordSpan>(reference.Count);
        int at = 0;
        foreach (WordInterval w in reference)
        {
            int k = Math.Max(1, PocketSphinxAligner.Normalise(w.Word).Count);
            result.Add(new WordSpan(w.Word, aligned[at].StartMs, aligned[at + k - 1].EndMs));
            at += k;
        }

        return result;
    }
}
