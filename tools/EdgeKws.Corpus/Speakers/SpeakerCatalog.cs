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

    /// <summary>
    /// espeak-ng English accents of the all-voices set (<see cref="VoiceSet.All"/>): the base six plus Lancaster and
    /// West Midlands (the mbrola-backed entries need mbrola voices, which Debian does not ship).
    /// </summary>
    public static IReadOnlyList<string> AllEspeakVoices { get; } = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd"];

    /// <summary>
    /// espeak-ng variants left out of the all-voices set because they are not a human talker: a speed-test voice,
    /// robot and effect voices, and "Mr" (its file is "Mr serious": a name with a space cannot follow <c>+</c> in
    /// <c>-v voice+variant</c>, so espeak-ng would silently fall back to the plain voice). Everything else <c>espeak-ng --voices=variant</c> lists is used (whisper and croak included).
    /// </summary>
    public static IReadOnlyList<string> NonHumanEspeakVariants { get; } =
        ["fast", "Mr", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "UniRobot", "anikaRobot", "Demonic", "announcer"];

    /// <summary>flite voices of the all-voices set: the base four plus the 8 kHz "kal" (a band-limited, telephone-like talker once resampled).</summary>
    public static IReadOnlyList<string> AllFliteVoices { get; } = ["kal16", "awb", "rms", "slt", "kal"];

    /// <summary>festival voices of the all-voices set, when installed (ked_diphone is festvox-kdlpc16k).</summary>
    public static IReadOnlyList<string> AllFestivalVoices { get; } = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"];

    /// <summary>Speaking rates of the all-voices set (engine rate, percent of the default): tempo 0.8 to 1.2.</summary>
    public static IReadOnlyList<int> AllRatePercents { get; } = [80, 88, 96, 104, 112, 120];

    /// <summary>
    /// Pitches of the all-voices set for voices without pitch control, applied by sox <c>pitch</c> after synthesis:
    /// about -300, -150, 0, +150, +300 cents.
    /// </summary>
    public static IReadOnlyList<int> SoxPitchPercents { get; } = [84, 92, 100, 109, 119];

    /// <summary>Cents of a pitch in percent (100 = 0 cents).</summary>
    public static double Cents(int pitchPercent) => 1200 * Math.Log2(pitchPercent / 100.0);

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

    /// <summary>festival voices from <see cref="FestivalVoices"/> (or <see cref="AllFestivalVoices"/>) whose directory exists.</summary>
    public static IReadOnlyList<string> AvailableFestivalVoices(string voiceSet = VoiceSet.Base)
    {
        const string root = "/usr/share/festival/voices";
        var found = new List<string>();
        foreach (string voice in voiceSet == VoiceSet.All ? AllFestivalVoices : FestivalVoices)
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
    public static IReadOnlyList<Speaker> Choose(long seed, int count, IReadOnlyList<string> engines, string voiceSet = VoiceSet.Base)
    {
        bool all = voiceSet == VoiceSet.All;
        if (count < 3)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "At least 3 speakers are needed (one per split).");
        }

        var identities = new Dictionary<string, List<(string Voice, string Variant)>>();
        foreach (string engine in engines)
        {
            List<(string, string)> list = engine switch
            {
                TtsEngine.Espeak => all
                    ? [.. AllEspeakVoices.SelectMany(v => AllEspeakVariants().Select(x => (v, x)))]
                    : [.. EspeakVoices.SelectMany(v => EspeakVariants.Select(x => (v, x)))],
                TtsEngine.Flite => [.. (all ? AllFliteVoices : FliteVoices).Select(v => (v, ""))],
                TtsEngine.Festival => [.. AvailableFestivalVoices(voiceSet).Select(v => (v, ""))],
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
            // The base set caps a small engine at one speaker per voice (kept for its corpora); the all-voices set lets each
            // voice be several talkers (its rate x pitch combinations), which is what makes flite and festival learnable.
            int cap = all ? identities[engine].Count * AllRatePercents.Count * SoxPitchPercents.Count : identities[engine].Count;
            int q = engines.Contains(TtsEngine.Espeak) ? Math.Min(Math.Max(share, 1), cap) : 0;
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
                bool added;
                IReadOnlyList<int> pitches = HasPitchControl(engine, voice) ? PitchPercents : all ? SoxPitchPercents : [100];
                do
                {
                    int rate = rng.Pick(all ? AllRatePercents : RatePercents);
                    int pitch = pitches.Count == 1 ? pitches[0] : rng.Pick(pitches); // no draw for a fixed pitch: base corpora keep their bytes
                    s = new Speaker(engine, voice, variant, rate, pitch);
                }
                while (!(added = ids.Add(s.Id)) && ++attempt < 100);

                if (!added && all)
                {
                    // Random draws keep missing the last free combinations of a heavily reused voice: take the first free one.
                    Speaker? free = (all ? AllRatePercents : RatePercents).SelectMany(r => pitches.Select(p => new Speaker(engine, voice, variant, r, p)))
                        .FirstOrDefault(c => !ids.Contains(c.Id));
                    if (free is null)
                    {
                        continue;
                    }

                    s = free;
                    ids.Add(s.Id);
                }

                speakers.Add(s);
            }
        }

        speakers.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return speakers;
    }

    private static IReadOnlyList<string>? _allEspeakVariants;

    /// <summary>
    /// The empty variant plus every variant <c>espeak-ng --voices=variant</c> lists, minus <see cref="NonHumanEspeakVariants"/>,
    /// in ordinal order (so the list depends on the installed espeak-ng, which the manifest records, not on its output order).
    /// </summary>
    public static IReadOnlyList<string> AllEspeakVariants()
    {
        if (_allEspeakVariants is null)
        {
            string output = ProcessRunner.RunAsync("espeak-ng", ["--voices=variant"], TimeSpan.FromSeconds(30), CancellationToken.None).GetAwaiter().GetResult();
            var names = new SortedSet<string>(StringComparer.Ordinal);
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Skip(1))
            {
                // "Pty Language Age/Gender VoiceName File ...": the file column is "!v/<variant>".
                string? file = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(c => c.StartsWith("!v/", StringComparison.Ordinal));
                if (file is not null && !NonHumanEspeakVariants.Contains(file[3..]))
                {
                    names.Add(file[3..]);
                }
            }

            _allEspeakVariants = ["", .. names];
        }

        return _allEspeakVariants;
    }
}

/// <summary>Which voices the speaker catalogue draws from.</summary>
public static class VoiceSet
{
    /// <summary>The original set: six espeak-ng accents x 12 variants, four flite voices, two festival voices; pitch only where the engine has it.</summary>
    public const string Base = "base";

    /// <summary>
    /// Every installed English voice and human variant: eight espeak-ng accents x every variant, five flite and three festival
    /// voices; voices without pitch control are shifted by sox (+-300 cents); rates 80-120 %.
    /// </summary>
    public const string All = "all";
}
