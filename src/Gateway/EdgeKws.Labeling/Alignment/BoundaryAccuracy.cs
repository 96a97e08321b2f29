namespace EdgeKws.Labeling.Alignment;

/// <summary>Boundary-error figures of an aligner against reference word times.</summary>
/// <param name="Words">Reference words compared (in utterances that aligned).</param>
/// <param name="Boundaries">Boundaries compared (start and end of each word).</param>
/// <param name="MedianErrorMs">Median absolute boundary error.</param>
/// <param name="P90ErrorMs">90th percentile absolute boundary error.</param>
/// <param name="ShareWithin50Ms">Share of words whose start and end are both within 50 ms.</param>
/// <param name="UtterancesFailed">Utterances the aligner could not align at all.</param>
/// <param name="Utterances">Utterances tried.</param>
/// <param name="BoundaryShareWithin50Ms">Share of boundaries (starts and ends counted apart) within 50 ms: the figure.</param>
public sealed record BoundaryAccuracy(int Words, int Boundaries, double MedianErrorMs, double P90ErrorMs, double ShareWithin50Ms, int UtterancesFailed, int Utterances, double BoundaryShareWithin50Ms = double.NaN)
{
    /// <summary>One line for logs and docs.</summary>
    public override string ToString() =>
        $"{Utterances} utterances ({UtterancesFailed} not aligned), {Words} words: median boundary error {MedianErrorMs:0.0} ms, p90 {P90ErrorMs:0.0} ms, {BoundaryShareWithin50Ms:P1} of boundaries and {ShareWithin50Ms:P1} of words (both ends) within 50 ms";

    /// <summary>Accumulates word pairs and computes the figures.</summary>
    public sealed class Builder
    {
        private readonly List<double> _errors = [];
        private int _words;
        private int _within;
        private int _failed;
        private int _utterances;

        /// <summary>Adds one utterance: reference and aligned words in the same order (null aligned = the aligner failed).</summary>
        /// <exception cref="ArgumentException">The two lists differ in length or words.</exception>
        public void Add(IReadOnlyList<WordSpan> reference, IReadOnlyList<WordSpan>? aligned)
        {
            _utterances++;
            if (aligned is null)
            {
                _failed++;
                return;
            }

            if (reference.Count != aligned.Count)
            {
                throw new ArgumentException($"Reference has {reference.Count} words, the alignment {aligned.Count}.");
            }

            for (int i = 0; i < reference.Count; i++)
            {
                double s = Math.Abs(reference[i].StartMs - aligned[i].StartMs);
                double e = Math.Abs(reference[i].EndMs - aligned[i].EndMs);
                _errors.Add(s);
                _errors.Add(e);
                _words++;
                if (s <= 50 && e <= 50)
                {
                    _within++;
                }
            }
        }

        /// <summary>The figures so far.</summary>
        public BoundaryAccuracy Build()
        {
            double[] sorted = [.. _errors.Order()];
            return new BoundaryAccuracy(_words, sorted.Length, Percentile(sorted, 50), Percentile(sorted, 90), _words == 0 ? 0 : (double)_within / _words, _failed, _utterances,
                sorted.Length == 0 ? 0 : (double)sorted.Count(e => e <= 50) / sorted.Length);
        }

        // Linear interpolation between closest ranks.
        private static double Percentile(double[] sorted, double p)
        {
            if (sorted.Length == 0)
            {
                return double.NaN;
            }

            double rank = p / 100 * (sorted.Length - 1);
            int lo = (int)Math.Floor(rank);
            int hi = Math.Min(lo + 1, sorted.Length - 1);
            return sorted[lo] + ((rank - lo) * (sorted[hi] - sorted[lo]));
        }
    }
}
