namespace EdgeKws.Corpus.Speakers;

/// <summary>
/// The voices each engine offers on this machine, and the deterministic choice of N speakers from them.
/// </summary>
public static class SpeakerCatalog
{
    /// <summary>espeak-ng English language voices used as bases.</summary>
    public static IReadOnlyList<string> EspeakVoices { get; } = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc"];

    /// <summary>espeak-ng variants (the empty string is the voice's own default).</summary>
    public static IReadOnlyList<string> EspeakVariants { get; } = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"];

    /// <summary>flite voices used (16 kHz ones; "kal" is 8 kHz and "awb_time" is a talking clock, so both are left out).</summary>
    public static IReadOnlyList<string> FliteVoices { get; } = ["kal16", "awb", "rms", "slt"];

    /// <summary>festival voices used when their Debian packages are installed.</summary>
    public static IReadOnlyList<string> FestivalVoices { get; } = ["kal_diphone", "cmu_us_slt_arctic_hts"];

    /// <summary>True for voices whose pitch the generator can shift: espeak-ng (-p) and festival HTS voices (hts_engine -fm).</summary>
    public static bool HasPitchControl(string engine, string voice) =>
        engine == TtsEngine.Espeak || (engine == TtsEngine.Festival && voice.EndsWith("_hts", StringComparison.Ordinal));

    /// <summary>Speaking rates drawn per speaker (percent of the engine default).</summary>
    public static IReadOnlyList<int> RatePercents { get; } = [85, 92, 100, 108, 118];

    /// <summary>Pitches drawn per speaker whose voice has pitch control (percent of the default).</summary>
    public static IReadOnlyList<int> PitchPercents { get; } = [70, 85, 100, 115, 130];

    /// <summary>Engines whose program (and, for festival, at least one voice) is installed, in fixed order.</summary>
    public static IReadOnlyList<string> AvailableEngines()
    {
        var engines = new List<string>();
        if (ToolLocator.TryFind("espeak-ng", out _))
        {
            engines.Add(TtsEngine.Espeak);
        }

        if (ToolLocator.TryFind("flite", out _))
        {
            engines.Add(TtsEngine.Flite);
        }

        if (ToolLocator.TryFind("festival", out _) && AvailableFestivalVoices().Count > 0)
        {
            engines.Add(TtsEngine.Festival);
        }

        return engines;
    }

    /// <summary>
    /// The version line of each tool's <c>--version</c> output (espeak-ng, flite, festival, sox), for the manifest: the
    /// corpus is byte-identical for a seed only with the same tool versions.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ToolVersionsAsync(IReadOnlyList<string> engines, CancellationToken cancellationToken = default)
    {
        var versions = new List<string>();
        foreach ((string engine, string program) in new[] { (TtsEngine.Espeak, "espeak-ng"), (TtsEngine.Flite, "flite"), (TtsEngine.Festival, "festival"), ("sox", "sox") })
        {
            if (engine != "sox" && !engines.Contains(engine))
            {
                continue;
            }

            string output = await ProcessRunner.RunAsync(program, ["--version"], TimeSpan.FromSeconds(30), cancellationToken, requireSuccess: false).ConfigureAwait(false);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // flite prints a copyright line first; its version is on the line that says so.
            string first = lines.FirstOrDefault(l => l.Contains("version", StringComparison.OrdinalIgnoreCase)) ?? lines.FirstOrDefault() ?? "";
            // espeak-ng appends its data path, which differs between machines and says nothing about the output.
            int data = first.IndexOf("  Data at:", StringComparison.Ordinal);
            string line = string.Join(' ', (data >= 0 ? first[..data] : first).Split(' ', StringSplitOptions.RemoveEmptyEntries));
            versions.Add(line.StartsWith(program + ":", StringComparison.OrdinalIgnoreCase) ? line : program + ": " + line);
        }

        return versions;
    }

    /// <summary>festival voices from <see cref="FestivalVoices"/> whose directory exists.</summary>
    public static IReadOnlyList<string> AvailableFestivalVoices()
    {
        const string root = "/usr/share/festival/voices";
        var found = new List<string>();
        foreach (string voice in FestivalVoices)
        {
            if (Directory.Exists(root) && Directory.EnumerateDirectories(root).Any(d => Directory.Exists(Path.Combine(d, voice))))
            {
                found.Add(voice);
            }
        }

        return found;
    }

    /// <summary>
    /// Chooses <paramref name="count"/> speakers. Quotas: up to a quarter flite voices, up to an eighth
    /// festival voices, the rest espeak-ng voice+variant pairs; voices are shuffled per engine with the
    /// seed and reused (at another rate/pitch) only when the count exceeds the distinct voices.
    /// </summary>
    public static IReadOnlyList<Speaker> Choose(long seed, int count, IReadOnlyList<string> engines)
    {
        if (count < 3)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "At least 3 speakers are needed (one per split).");
        }

        var identities = new Dictionary<string, List<(string Voice, string Variant)>>();
        foreach (string engine in engines)
        {
            List<(string, string)> list = engine switch
            {
                TtsEngine.Espeak => [.. EspeakVoices.SelectMany(v => EspeakVariants.Select(x => (v, x)))],
                TtsEngine.Flite => [.. FliteVoices.Select(v => (v, ""))],
                TtsEngine.Festival => [.. AvailableFestivalVoices().Select(v => (v, ""))],
                _ => throw new ArgumentException($"Unknown TTS engine '{engine}'; known: {string.Join(", ", TtsEngine.All)}.", nameof(engines)),
            };
            DeterministicRandom.For(seed, "speakers/" + engine).Shuffle(list);
            identities[engine] = list;
        }

        var quota = new Dictionary<string, int>();
        int remaining = count;
        foreach (string engine in engines.Where(e => e != TtsEngine.Espeak))
        {
            int share = engine == TtsEngine.Flite ? (int)Math.Round(count * 0.25) : (int)Math.Round(count * 0.125);
            int q = engines.Contains(TtsEngine.Espeak) ? Math.Min(Math.Max(share, 1), identities[engine].Count) : 0;
            quota[engine] = Math.Min(q, remaining);
            remaining -= quota[engine];
        }

        if (engines.Contains(TtsEngine.Espeak))
        {
            quota[TtsEngine.Espeak] = remaining;
        }
        else
        {
            // No espeak-ng: spread the count over the other engines round-robin.
            for (int i = 0; remaining > 0; i++, remaining--)
            {
                string e = engines[i % engines.Count];
                quota[e] = quota.GetValueOrDefault(e) + 1;
            }
        }

        var speakers = new List<Speaker>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (string engine in engines)
        {
            List<(string Voice, string Variant)> list = identities[engine];
            for (int k = 0; k < quota.GetValueOrDefault(engine); k++)
            {
                (string voice, string variant) = list[k % list.Count];
                var rng = DeterministicRandom.For(seed, $"speaker/{engine}/{k}");
                Speaker s;
                int attempt = 0;
                do
                {
                    int rate = rng.Pick(RatePercents);
                    int pitch = HasPitchControl(engine, voice) ? rng.Pick(PitchPercents) : 100;
                    s = new Speaker(engine, voice, variant, rate, pitch);
                }
                while (!ids.Add(s.Id) && ++attempt < 100);

                speakers.Add(s);
            }
        }

        speakers.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return speakers;
    }
}
