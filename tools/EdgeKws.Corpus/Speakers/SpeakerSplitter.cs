namespace EdgeKws.Corpus.Speakers;

/// <summary>
/// Speaker-independent split. Voices (<see cref="Speaker.VoiceKey"/>) are ordered by a seeded hash;
/// the test and validation quotas (each max(1, round(fraction x voices))) are filled by taking the next
/// voice from each engine in turn, so held-out splits see every engine when they can; the rest is train.
/// All speakers sharing a voice key land in the same split.
/// With <c>keepEveryEngineInTrain</c>, each engine gives at most half of its voices (rounded down) to the
/// held-out splits, test taking at most the larger half of that and validation the rest; without it, a
/// corpus with many speakers puts every voice of a small engine (flite 4, festival 2) into test, and the
/// model never hears that engine in training.
/// </summary>
public static class SpeakerSplitter
{
    /// <summary>Assigns every speaker to one split; returns speaker id to split name.</summary>
    public static IReadOnlyDictionary<string, string> Split(long seed, IReadOnlyList<Speaker> speakers, double testFraction, double validationFraction, bool keepEveryEngineInTrain = false)
    {
        if (testFraction is <= 0 or >= 1 || validationFraction is <= 0 or >= 1 || testFraction + validationFraction >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), $"Split fractions must be in (0, 1) and leave room for train (test {testFraction}, validation {validationFraction}).");
        }

        var voices = speakers.Select(s => (s.Engine, s.VoiceKey)).Distinct()
            .OrderBy(v => DeterministicRandom.Hash(seed, "split/" + v.VoiceKey))
            .ThenBy(v => v.VoiceKey, StringComparer.Ordinal)
            .ToList();
        if (voices.Count < 3)
        {
            throw new ArgumentException($"Only {voices.Count} distinct voices: a speaker-independent split needs at least 3.", nameof(speakers));
        }

        int test = Math.Max(1, (int)Math.Round(testFraction * voices.Count));
        int validation = Math.Max(1, (int)Math.Round(validationFraction * voices.Count));
        if (test + validation >= voices.Count)
        {
            test = 1;
            validation = 1;
        }

        var queues = TtsEngine.All.Select(e => new Queue<string>(voices.Where(v => v.Engine == e).Select(v => v.VoiceKey))).ToList();
        var splitOfVoice = new Dictionary<string, string>(StringComparer.Ordinal);
        int[] budget = [.. queues.Select(q => keepEveryEngineInTrain ? q.Count / 2 : q.Count)];
        int[] testCap = [.. budget.Select(b => keepEveryEngineInTrain ? (b + 1) / 2 : b)];
        Fill(CorpusSplit.Test, test, testCap);
        Fill(CorpusSplit.Validation, validation, budget);
        foreach (var v in voices)
        {
            splitOfVoice.TryAdd(v.VoiceKey, CorpusSplit.Train);
        }

        return speakers.ToDictionary(s => s.Id, s => splitOfVoice[s.VoiceKey], StringComparer.Ordinal);

        void Fill(string split, int quota, int[] cap)
        {
            int engine = 0;
            bool capped = true;
            while (quota > 0)
            {
                int e = engine % queues.Count;
                Queue<string> q = queues[e];
                engine++;
                if (q.Count > 0 && (!capped || cap[e] > 0))
                {
                    splitOfVoice[q.Dequeue()] = split;
                    cap[e]--;
                    if (!ReferenceEquals(cap, budget))
                    {
                        budget[e]--; // test's voices also come out of the engine's held-out budget
                    }

                    quota--;
                }

                if (engine % queues.Count == 0 && capped && queues.Select((x, i) => x.Count > 0 && cap[i] > 0).All(ok => !ok))
                {
                    // The caps leave too few voices for the quota: fill the rest as without them.
                    capped = false;
                }
            }
        }
    }
}
