namespace EdgeKws.Labeling.Alignment;

/// <summary>How the aligner turns the decoder's word times into the times it reports.</summary>
public enum BoundaryRefinement
{
    /// <summary>The decoder's times as they are (10 ms frames).</summary>
    None,

    /// <summary>Each start (end) moved to the nearest onset (offset) of the energy envelope within <see cref="WordBoundaryRefinerOptions.SnapWindowMs"/>.</summary>
    Snap,

    /// <summary>The words re-segmented at the pauses of the energy envelope (<see cref="WordBoundaryRefiner"/>); the default.</summary>
    Pauses,
}

/// <summary>Weights and thresholds of <see cref="WordBoundaryRefiner"/>; the defaults are the measured ones (docs/labeling.md).</summary>
public sealed record WordBoundaryRefinerOptions
{
    /// <summary>A frame is quiet when its energy is under the noise floor (10th percentile of frame energies) plus this.</summary>
    public double QuietAboveFloorDb { get; init; } = 8;

    /// <summary>A frame is also quiet when it is this far under the loudest frame (clean audio, whose floor is digital silence).</summary>
    public double QuietBelowPeakDb { get; init; } = 60;

    /// <summary>Shortest pause (run of quiet frames) that can separate words.</summary>
    public double MinPauseMs { get; init; } = 15;

    /// <summary>
    /// The envelope is used only when its 95th percentile frame is at least this far above the noise floor: in noisy audio
    /// the pauses drown, and refining on noise made boundaries worse than the decoder's own (measured at 0-10 dB SNR).
    /// </summary>
    public double MinDynamicRangeDb { get; init; } = 25;

    /// <summary>Distance (ms) between a pause and the decoder's boundary that costs one unit.</summary>
    public double DecoderDistanceMs { get; init; } = 150;

    /// <summary>Cap of the decoder-distance cost: far from the decoder, every pause is equally unlikely.</summary>
    public double DecoderDistanceCap { get; init; } = 10;

    /// <summary>Weight of the squared log ratio of a word's duration to its expected duration.</summary>
    public double DurationWeight { get; init; } = 3;

    /// <summary>Cost of a pause left inside a word (a stop closure), plus <see cref="InnerPausePer50Ms"/> per 50 ms of it.</summary>
    public double InnerPause { get; init; } = 1;

    /// <summary>Cost per 50 ms of a pause left inside a word: long silences inside a word are unlikely.</summary>
    public double InnerPausePer50Ms { get; init; } = 1;

    /// <summary>Cost of keeping the decoder's boundary where no pause is used (continuous speech).</summary>
    public double NoPause { get; init; } = 4;

    /// <summary>Cost per 20 ms of sound left before the first word or after the last (sound nobody said would be odd).</summary>
    public double UnassignedSoundPer20Ms { get; init; } = 1;

    /// <summary>Pauses farther than this from the decoder's boundary are not considered (keeps long recordings cheap).</summary>
    public double SearchWindowMs { get; init; } = 2000;

    /// <summary><see cref="BoundaryRefinement.Snap"/> only: how far a boundary may move.</summary>
    public double SnapWindowMs { get; init; } = 60;
}

/// <summary>The refined words and what the refiner did.</summary>
/// <param name="Words">Words with refined times (confidences as given).</param>
/// <param name="Applied">False when the envelope was not used (too little dynamic range, or no pause found).</param>
/// <param name="BoundariesAtPauses">Word boundaries (including the first start and the last end) placed on an envelope transition.</param>
/// <param name="Note">One line for logs and the aligner's result.</param>
public sealed record RefinedWords(IReadOnlyList<WordSpan> Words, bool Applied, int BoundariesAtPauses, string Note);

/// <summary>
/// Refines a forced alignment's word boundaries against the audio's energy envelope. The decoder (PocketSphinx 0.8)
/// places most boundaries within a few frames but now and then lets its silence model swallow a short word and shifts
/// its neighbours by hundreds of milliseconds. Where the speaker paused between words the envelope knows the boundary
/// to the sample; what it does not know is which pause separates which words (a stop closure inside "paint" is a pause
/// too). This class decides that by dynamic programming over the pauses:
/// <list type="bullet">
/// <item>Pauses: runs of quiet 10 ms frames (5 ms hop), quiet meaning under max(noise floor + 8 dB, peak - 60 dB); each
/// pause's edges are then found to the sample (first/last sample above the same level).</item>
/// <item>Each boundary between words i and i+1 either takes a pause (word i ends where it starts, word i+1 starts where it
/// ends) or keeps the decoder's boundary (continuous speech). Costs: distance from the decoder's boundary; the squared
/// log ratio of each word's duration to its expected duration (phone durations x the recording's speaking rate); pauses
/// left inside a word; sound left outside the first and last word.</item>
/// <item>The speaking rate is estimated from the decoder, then once more from the first solution.</item>
/// </list>
/// Continuous speech has few pauses, so most boundaries stay the decoder's; noisy audio (95th percentile frame less than
/// 25 dB above the floor) is left alone. Reverberation fills pauses with the room's tail, so word ends that border a
/// pause follow the tail (docs/labeling.md has the figures).
/// </summary>
/// <remarks>Allocates per call (envelope, pause list, DP tables); not a hot path.</remarks>
public sealed class WordBoundaryRefiner(WordBoundaryRefinerOptions? options = null)
{
    /// <summary>Version of this procedure, recorded in the aligner's tool string.</summary>
    public const string MethodVersion = "pause-refined 1";

    private const int SampleRateHz = 16_000;
    private const int HopSamples = 80;
    private const int WindowSamples = 160;
    private const double SamplesPerMs = SampleRateHz / 1000.0;

    // Mean phone durations (ms) of read American English, rounded (TIMIT-like figures). Only ratios matter:
    // they turn a phone string into an expected duration, scaled by the recording's own speaking rate.
    private static readonly Dictionary<string, double> PhoneMs = new(StringComparer.Ordinal)
    {
        ["AA"] = 120,
        ["AE"] = 130,
        ["AH"] = 70,
        ["AO"] = 120,
        ["AW"] = 160,
        ["AY"] = 150,
        ["EH"] = 100,
        ["ER"] = 110,
        ["EY"] = 130,
        ["IH"] = 75,
        ["IY"] = 100,
        ["OW"] = 130,
        ["OY"] = 170,
        ["UH"] = 80,
        ["UW"] = 110,
        ["B"] = 60,
        ["D"] = 55,
        ["G"] = 60,
        ["K"] = 75,
        ["P"] = 80,
        ["T"] = 70,
        ["CH"] = 100,
        ["JH"] = 90,
        ["DH"] = 40,
        ["F"] = 95,
        ["HH"] = 60,
        ["S"] = 105,
        ["SH"] = 110,
        ["TH"] = 85,
        ["V"] = 55,
        ["Z"] = 85,
        ["ZH"] = 80,
        ["M"] = 65,
        ["N"] = 55,
        ["NG"] = 70,
        ["L"] = 60,
        ["R"] = 55,
        ["W"] = 55,
        ["Y"] = 55,
    };

    /// <summary>The options in use.</summary>
    public WordBoundaryRefinerOptions Options { get; } = options ?? new WordBoundaryRefinerOptions();

    /// <summary>Expected relative duration of a phone string (ARPAbet, stress digits allowed): the sum of mean phone durations.</summary>
    public static double ExpectedDurationMs(string phones)
    {
        double sum = 0;
        foreach (string p in phones.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            sum += PhoneMs.TryGetValue(p.TrimEnd('0', '1', '2'), out double ms) ? ms : 80;
        }

        return Math.Max(sum, 40);
    }

    /// <summary>Refines <paramref name="words"/> (decoder times) against <paramref name="audio16k"/>.</summary>
    /// <param name="audio16k">The recording, 16 kHz mono.</param>
    /// <param name="words">The decoder's words in order.</param>
    /// <param name="expectedMs">Each word's expected duration (<see cref="ExpectedDurationMs"/> of its phones), same order.</param>
    /// <param name="mode">Which refinement.</param>
    /// <exception cref="ArgumentException">The lists differ in length.</exception>
    public RefinedWords Refine(ReadOnlySpan<float> audio16k, IReadOnlyList<WordSpan> words, IReadOnlyList<double> expectedMs, BoundaryRefinement mode = BoundaryRefinement.Pauses)
    {
        ArgumentNullException.ThrowIfNull(words);
        ArgumentNullException.ThrowIfNull(expectedMs);
        if (words.Count != expectedMs.Count)
        {
            throw new ArgumentException($"{words.Count} words but {expectedMs.Count} expected durations.", nameof(expectedMs));
        }

        if (mode == BoundaryRefinement.None || words.Count == 0)
        {
            return new RefinedWords(words, false, 0, "decoder times");
        }

        Envelope env = Envelope.Of(audio16k, Options);
        if (env.DynamicRangeDb < Options.MinDynamicRangeDb)
        {
            return new RefinedWords(words, false, 0, $"decoder times: envelope spans {env.DynamicRangeDb:0} dB above its floor, under {Options.MinDynamicRangeDb:0} dB (noisy)");
        }

        if (env.Pauses.Count == 0 && env.Onsets.Count == 0)
        {
            return new RefinedWords(words, false, 0, "decoder times: no pause in the envelope");
        }

        return mode == BoundaryRefinement.Snap ? Snap(env, words) : new Segmenter(this, env, words, expectedMs, audio16k.Length / SamplesPerMs).Run();
    }

    private RefinedWords Snap(Envelope env, IReadOnlyList<WordSpan> words)
    {
        int moved = 0;
        var result = new List<WordSpan>(words.Count);
        double previousEnd = 0;
        foreach (WordSpan w in words)
        {
            double s = Nearest(env.Onsets, w.StartMs, Options.SnapWindowMs) ?? w.StartMs;
            double e = Nearest(env.Offsets, w.EndMs, Options.SnapWindowMs) ?? w.EndMs;
            s = Math.Max(s, previousEnd);
            if (e <= s)
            {
                (s, e) = (Math.Max(w.StartMs, previousEnd), w.EndMs);
            }

            moved += (s != w.StartMs ? 1 : 0) + (e != w.EndMs ? 1 : 0);
            result.Add(w with { StartMs = s, EndMs = e });
            previousEnd = e;
        }

        return new RefinedWords(result, true, moved, $"snapped {moved} of {2 * words.Count} boundaries to the envelope");
    }

    private static double? Nearest(IReadOnlyList<double> points, double at, double window)
    {
        double? best = null;
        foreach (double p in points)
        {
            if (Math.Abs(p - at) <= window && (best is null || Math.Abs(p - at) < Math.Abs(best.Value - at)))
            {
                best = p;
            }
        }

        return best;
    }

    /// <summary>A pause: sound ends at <see cref="OffsetMs"/> and starts again at <see cref="OnsetMs"/>.</summary>
    private readonly record struct Pause(double OffsetMs, double OnsetMs);

    /// <summary>The energy envelope's transitions: onsets, offsets, interior pauses and the sounding intervals.</summary>
    private sealed class Envelope
    {
        public required double DynamicRangeDb { get; init; }

        public required List<double> Onsets { get; init; }

        public required List<double> Offsets { get; init; }

        public required List<Pause> Pauses { get; init; }

        public required List<(double From, double To)> Sounding { get; init; }

        public static Envelope Of(ReadOnlySpan<float> x, WordBoundaryRefinerOptions o)
        {
            int n = x.Length < WindowSamples ? 0 : ((x.Length - WindowSamples) / HopSamples) + 1;
            double[] e = new double[n];
            for (int k = 0; k < n; k++)
            {
                double sum = 0;
                ReadOnlySpan<float> f = x.Slice(k * HopSamples, WindowSamples);
                foreach (float v in f)
                {
                    sum += (double)v * v;
                }

                e[k] = 10 * Math.Log10((sum / WindowSamples) + 1e-12);
            }

            if (n == 0)
            {
                return new Envelope { DynamicRangeDb = 0, Onsets = [], Offsets = [], Pauses = [], Sounding = [] };
            }

            double[] sorted = [.. e.Order()];
            double floor = Percentile(sorted, 10), peak = sorted[^1];
            double threshold = Math.Max(floor + o.QuietAboveFloorDb, peak - o.QuietBelowPeakDb);
            float amplitude = (float)Math.Pow(10, threshold / 20);
            int minPauseFrames = (int)Math.Ceiling(o.MinPauseMs * SamplesPerMs / HopSamples);
            var onsets = new List<double>();
            var offsets = new List<double>();
            if (e[0] >= threshold)
            {
                onsets.Add(0);
            }

            for (int i = 0; i < n;)
            {
                if (e[i] >= threshold)
                {
                    i++;
                    continue;
                }

                int j = i;
                while (j < n && e[j] < threshold)
                {
                    j++;
                }

                bool interior = i > 0 && j < n;
                if (!interior || j - i >= minPauseFrames)
                {
                    if (i > 0)
                    {
                        // Sound ends at the last sample above the level, searched around the first quiet frame.
                        int from = Math.Max(0, (i * HopSamples) - WindowSamples), to = Math.Min(x.Length, (i * HopSamples) + WindowSamples);
                        int last = LastAbove(x[from..to], amplitude);
                        offsets.Add((last >= 0 ? from + last + 1 : i * HopSamples) / SamplesPerMs);
                    }

                    if (j < n)
                    {
                        int from = j * HopSamples, to = Math.Min(x.Length, from + WindowSamples + HopSamples);
                        int first = FirstAbove(x[from..to], amplitude);
                        onsets.Add((first >= 0 ? from + first : from) / SamplesPerMs);
                    }
                }

                i = j;
            }

            if (e[^1] >= threshold)
            {
                offsets.Add(x.Length / SamplesPerMs);
            }

            var pauses = new List<Pause>();
            var sounding = new List<(double, double)>();
            foreach (double on in onsets)
            {
                int k = offsets.FindIndex(off => off > on);
                if (k >= 0)
                {
                    sounding.Add((on, offsets[k]));
                }
            }

            foreach (double off in offsets)
            {
                int k = onsets.FindIndex(on => on > off);
                if (k >= 0)
                {
                    pauses.Add(new Pause(off, onsets[k]));
                }
            }

            return new Envelope { DynamicRangeDb = Percentile(sorted, 95) - floor, Onsets = onsets, Offsets = offsets, Pauses = pauses, Sounding = sounding };
        }

        public double SoundingMs(double from, double to)
        {
            double sum = 0;
            foreach ((double a, double b) in Sounding)
            {
                double lo = Math.Max(a, from), hi = Math.Min(b, to);
                if (hi > lo)
                {
                    sum += hi - lo;
                }
            }

            return sum;
        }

        private static int FirstAbove(ReadOnlySpan<float> s, float level)
        {
            for (int i = 0; i < s.Length; i++)
            {
                if (Math.Abs(s[i]) >= level)
                {
                    return i;
                }
            }

            return -1;
        }

        private static int LastAbove(ReadOnlySpan<float> s, float level)
        {
            for (int i = s.Length - 1; i >= 0; i--)
            {
                if (Math.Abs(s[i]) >= level)
                {
                    return i;
                }
            }

            return -1;
        }

        private static double Percentile(double[] sorted, double p)
        {
            double rank = p / 100 * (sorted.Length - 1);
            int lo = (int)Math.Floor(rank), hi = Math.Min(lo + 1, sorted.Length - 1);
            return sorted[lo] + ((rank - lo) * (sorted[hi] - sorted[lo]));
        }
    }

    /// <summary>The dynamic programme over pauses (see the class remarks).</summary>
    private sealed class Segmenter
    {
        private readonly WordBoundaryRefinerOptions _o;
        private readonly Envelope _env;
        private readonly IReadOnlyList<WordSpan> _words;
        private readonly IReadOnlyList<double> _expected;
        private readonly double _durationMs;
        private readonly double[] _innerCostPrefix;

        public Segmenter(WordBoundaryRefiner owner, Envelope env, IReadOnlyList<WordSpan> words, IReadOnlyList<double> expected, double durationMs)
        {
            _o = owner.Options;
            _env = env;
            _words = words;
            _expected = expected;
            _durationMs = durationMs;
            _innerCostPrefix = new double[env.Pauses.Count + 1];
            for (int j = 0; j < env.Pauses.Count; j++)
            {
                Pause p = env.Pauses[j];
                _innerCostPrefix[j + 1] = _innerCostPrefix[j] + _o.InnerPause + (_o.InnerPausePer50Ms * (p.OnsetMs - p.OffsetMs) / 50);
            }
        }

        // A candidate boundary: the previous word ends at EndMs, the next starts at StartMs; Pause is the pause index or -1.
        private readonly record struct Node(double EndMs, double StartMs, double Cost, int Pause);

        public RefinedWords Run()
        {
            double units = _expected.Sum();
            double rate = _words.Sum(w => w.DurationMs) / units;
            (double Cost, Node[] Path)? best = Solve(rate);
            if (best is null)
            {
                return new RefinedWords(_words, false, 0, "decoder times: no segmentation fits");
            }

            // Once more with the speaking rate of the first solution: the decoder's durations are what goes wrong.
            double rate2 = Durations(best.Value.Path).Sum() / units;
            best = Solve(rate2) ?? best;
            Node[] path = best.Value.Path;
            var result = new List<WordSpan>(_words.Count);
            for (int k = 0; k < _words.Count; k++)
            {
                result.Add(_words[k] with { StartMs = path[k].StartMs, EndMs = path[k + 1].EndMs });
            }

            int atPauses = path.Count(p => p.Pause >= 0);
            return new RefinedWords(result, true, atPauses, $"{atPauses} of {_words.Count + 1} boundaries at envelope pauses");
        }

        private IEnumerable<double> Durations(Node[] path)
        {
            for (int k = 0; k + 1 < path.Length; k++)
            {
                yield return path[k + 1].EndMs - path[k].StartMs;
            }
        }

        private (double, Node[])? Solve(double rate)
        {
            int n = _words.Count;
            var layers = new List<Node[]>(n + 1);

            // Layer 0: where the first word starts; a node's StartMs is the start (EndMs unused).
            double s0 = _words[0].StartMs;
            var starts = new List<Node> { new(s0, s0, _o.NoPause + Unassigned(0, s0), -2) };
            foreach (double on in _env.Onsets)
            {
                if (on < _words[0].EndMs && Math.Abs(on - s0) <= _o.SearchWindowMs)
                {
                    starts.Add(new Node(on, on, Distance(Math.Abs(on - s0)) + Unassigned(0, on), -3));
                }
            }

            layers.Add([.. starts]);
            for (int k = 0; k + 1 < n; k++)
            {
                double lo = Math.Min(_words[k].EndMs, _words[k + 1].StartMs), hi = _words[k + 1].StartMs;
                var nodes = new List<Node> { new(lo, hi, _o.NoPause, -1) };
                for (int j = 0; j < _env.Pauses.Count; j++)
                {
                    Pause p = _env.Pauses[j];
                    double gap = Math.Max(0, Math.Max(lo - p.OnsetMs, p.OffsetMs - hi));
                    if (gap <= _o.SearchWindowMs)
                    {
                        nodes.Add(new Node(p.OffsetMs, p.OnsetMs, Distance(gap), j));
                    }
                }

                layers.Add([.. nodes]);
            }

            // Last layer: where the last word ends; a node's EndMs is the end.
            double e0 = _words[^1].EndMs;
            var ends = new List<Node> { new(e0, e0, _o.NoPause + Unassigned(e0, _durationMs), -2) };
            foreach (double off in _env.Offsets)
            {
                if (off > _words[^1].StartMs && Math.Abs(off - e0) <= _o.SearchWindowMs)
                {
                    ends.Add(new Node(off, off, Distance(Math.Abs(off - e0)) + Unassigned(off, _durationMs), -3));
                }
            }

            layers.Add([.. ends]);

            double[] cost = [.. layers[0].Select(x => x.Cost)];
            var back = new List<int[]>(n);
            for (int k = 1; k <= n; k++)
            {
                Node[] cur = layers[k], prev = layers[k - 1];
                double[] next = new double[cur.Length];
                int[] from = new int[cur.Length];
                for (int c = 0; c < cur.Length; c++)
                {
                    double bestCost = double.PositiveInfinity;
                    int bestIndex = -1;
                    for (int i = 0; i < prev.Length; i++)
                    {
                        if (double.IsPositiveInfinity(cost[i]) || prev[i].StartMs >= cur[c].EndMs || (prev[i].Pause >= 0 && prev[i].Pause == cur[c].Pause))
                        {
                            continue;
                        }

                        double v = cost[i] + Duration(k - 1, prev[i].StartMs, cur[c].EndMs, rate) + Inner(prev[i].StartMs, cur[c].EndMs);
                        if (v < bestCost)
                        {
                            bestCost = v;
                            bestIndex = i;
                        }
                    }

                    next[c] = bestCost + cur[c].Cost;
                    from[c] = bestIndex;
                }

                cost = next;
                back.Add(from);
            }

            int end = Array.IndexOf(cost, cost.Min());
            if (double.IsPositiveInfinity(cost[end]))
            {
                return null;
            }

            var path = new Node[n + 1];
            for (int k = n; k >= 0; k--)
            {
                path[k] = layers[k][end];
                if (k > 0)
                {
                    end = back[k - 1][end];
                }
            }

            // Start and end layers: -3 marks an envelope transition, -2 the decoder's time; report both as pause or not.
            path[0] = path[0] with { Pause = path[0].Pause == -3 ? int.MaxValue : -1 };
            path[n] = path[n] with { Pause = path[n].Pause == -3 ? int.MaxValue : -1 };
            return (cost.Min(), path);
        }

        private double Distance(double ms) => Math.Min(ms / _o.DecoderDistanceMs, _o.DecoderDistanceCap);

        private double Unassigned(double from, double to) => _o.UnassignedSoundPer20Ms * _env.SoundingMs(from, to) / 20;

        private double Duration(int word, double startMs, double endMs, double rate)
        {
            double d = endMs - startMs;
            if (d <= 20)
            {
                return double.PositiveInfinity;
            }

            double r = Math.Log(d / (rate * _expected[word]));
            return _o.DurationWeight * r * r;
        }

        // Pauses wholly inside (from, to): a contiguous run, because pauses are sorted and disjoint.
        private double Inner(double fromMs, double toMs)
        {
            List<Pause> p = _env.Pauses;
            int a = LowerBound(p, fromMs), b = a;
            while (b < p.Count && p[b].OnsetMs < toMs)
            {
                b++;
            }

            return _innerCostPrefix[b] - _innerCostPrefix[a];
        }

        // First pause whose offset is after fromMs.
        private static int LowerBound(List<Pause> p, double fromMs)
        {
            int lo = 0, hi = p.Count;
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (p[mid].OffsetMs > fromMs)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }

            return lo;
        }
    }
}
