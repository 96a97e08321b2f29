using System.Collections.Concurrent;
using System.Globalization;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Synthesis;

/// <summary>
/// Runs the TTS engines and keeps every (speaker, text) chunk as trimmed 16 kHz mono float audio.
/// At most <see cref="MaxParallelProcesses"/> engine processes run at once. The result of a chunk depends
/// only on the speaker and text (the engines are deterministic; checked by the determinism test), never on
/// scheduling, so parallel synthesis keeps the corpus byte-identical.
/// </summary>
public sealed class TtsSynthesizer
{
    /// <summary>Sample rate of every chunk returned.</summary>
    public const int SampleRateHz = 16_000;

    /// <summary>Texts per festival process (one process per chunk would pay festival's start-up each time).</summary>
    public const int FestivalBatchSize = 64;

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<(string SpeakerId, string Text), float[]> _cache = new();
    private readonly string _workDir;
    private int _processes;

    /// <summary>Creates a synthesizer whose engine output goes to temporary files under <paramref name="workDir"/>.</summary>
    public TtsSynthesizer(string workDir, int maxParallelProcesses)
    {
        if (maxParallelProcesses is < 1 or > 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxParallelProcesses), maxParallelProcesses, "Synthesis runs 1 or 2 engine processes at a time.");
        }

        _workDir = workDir;
        MaxParallelProcesses = maxParallelProcesses;
        Directory.CreateDirectory(workDir);
    }

    /// <summary>Upper bound of concurrently running engine processes.</summary>
    public int MaxParallelProcesses { get; }

    /// <summary>Engine processes started so far.</summary>
    public int ProcessCount => _processes;

    /// <summary>Distinct chunks synthesised.</summary>
    public int ChunkCount => _cache.Count;

    /// <summary>Total samples held in the cache (for the summary).</summary>
    public long CachedSamples => _cache.Values.Sum(a => (long)a.Length);

    /// <summary>Synthesises every request not yet cached.</summary>
    public async Task SynthesizeAsync(IEnumerable<(Speaker Speaker, string Text)> requests, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var pending = requests.Where(r => !_cache.ContainsKey((r.Speaker.Id, r.Text)))
            .DistinctBy(r => (r.Speaker.Id, r.Text))
            .OrderBy(r => r.Speaker.Id, StringComparer.Ordinal).ThenBy(r => r.Text, StringComparer.Ordinal)
            .ToList();
        var units = new List<List<(Speaker Speaker, string Text)>>();
        foreach (var group in pending.GroupBy(r => r.Speaker.Id))
        {
            if (group.First().Speaker.Engine == TtsEngine.Festival)
            {
                units.AddRange(group.Chunk(FestivalBatchSize).Select(c => c.ToList()));
            }
            else
            {
                units.AddRange(group.Select(r => new List<(Speaker, string)> { r }));
            }
        }

        int done = 0;
        int total = pending.Count;
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxParallelProcesses, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(units, options, async (unit, ct) =>
        {
            await RunUnitAsync(unit, ct).ConfigureAwait(false);
            int now = Interlocked.Add(ref done, unit.Count);
            if (progress is not null && (now * 10 / Math.Max(total, 1)) != ((now - unit.Count) * 10 / Math.Max(total, 1)))
            {
                progress($"synthesised {now}/{total} chunks");
            }
        }).ConfigureAwait(false);
    }

    /// <summary>True when the chunk has been synthesised.</summary>
    public bool Has(Speaker speaker, string text) => _cache.ContainsKey((speaker.Id, text));

    /// <summary>The trimmed 16 kHz audio of a chunk synthesised earlier.</summary>
    public float[] Get(Speaker speaker, string text) =>
        _cache.TryGetValue((speaker.Id, text), out float[]? audio)
            ? audio
            : throw new InvalidOperationException($"'{text}' was never synthesised for speaker {speaker.Id}.");

    private async Task RunUnitAsync(List<(Speaker Speaker, string Text)> unit, CancellationToken ct)
    {
        Speaker speaker = unit[0].Speaker;
        string[] paths = unit.Select(r => Path.Combine(_workDir, $"{DeterministicRandom.Hash(0, r.Speaker.Id + "\n" + r.Text):x16}.wav")).ToArray();
        var inv = CultureInfo.InvariantCulture;
        switch (speaker.Engine)
        {
            case TtsEngine.Espeak:
                {
                    string voice = speaker.Variant.Length == 0 ? speaker.Voice : speaker.Voice + "+" + speaker.Variant;
                    int wpm = (int)Math.Round(175 * speaker.RatePercent / 100.0);
                    int pitch = Math.Clamp((int)Math.Round(50 * speaker.PitchPercent / 100.0), 0, 99);
                    Interlocked.Increment(ref _processes);
                    await ProcessRunner.RunAsync("espeak-ng", ["-v", voice, "-s", wpm.ToString(inv), "-p", pitch.ToString(inv), "-w", paths[0], unit[0].Text], Timeout, ct).ConfigureAwait(false);
                    break;
                }

            case TtsEngine.Flite:
                {
                    string stretch = (100.0 / speaker.RatePercent).ToString("0.####", inv);
                    Interlocked.Increment(ref _processes);
                    await ProcessRunner.RunAsync("flite", ["-voice", speaker.Voice, "--setf", "duration_stretch=" + stretch, "-t", unit[0].Text, "-o", paths[0]], Timeout, ct).ConfigureAwait(false);
                    break;
                }

            case TtsEngine.Festival:
                {
                    string stretch = (100.0 / speaker.RatePercent).ToString("0.####", inv);
                    string script = Path.Combine(_workDir, $"{DeterministicRandom.Hash(0, speaker.Id + "\n" + string.Join('\n', unit.Select(u => u.Text))):x16}.scm");
                    using (var w = new StreamWriter(script))
                    {
                        w.WriteLine($"(voice_{speaker.Voice})");
                        if (speaker.Voice.EndsWith("_hts", StringComparison.Ordinal))
                        {
                            // HTS voices ignore Duration_Stretch; hts_engine takes a speed rate (-r) and a half-tone shift (-fm).
                            string rate = (speaker.RatePercent / 100.0).ToString("0.####", inv);
                            string halfTones = (12 * Math.Log2(speaker.PitchPercent / 100.0)).ToString("0.###", inv);
                            w.WriteLine($"(set! hts_engine_params (append hts_engine_params (list (list \"-r\" {rate}) (list \"-fm\" {halfTones}))))");
                        }
                        else
                        {
                            w.WriteLine($"(Parameter.set 'Duration_Stretch {stretch})");
                        }

                        for (int i = 0; i < unit.Count; i++)
                        {
                            w.WriteLine($"(utt.save.wave (SynthText \"{unit[i].Text}\") \"{paths[i]}\" 'riff)");
                        }
                    }

                    Interlocked.Increment(ref _processes);
                    await ProcessRunner.RunAsync("festival", ["-b", script], Timeout, ct).ConfigureAwait(false);
                    File.Delete(script);
                    break;
                }

            default:
                throw new InvalidOperationException($"Unknown engine '{speaker.Engine}' for speaker {speaker.Id}.");
        }

        bool soxPitch = speaker.PitchPercent != 100 && !SpeakerCatalog.HasPitchControl(speaker.Engine, speaker.Voice);
        for (int i = 0; i < unit.Count; i++)
        {
            if (!File.Exists(paths[i]))
            {
                throw new InvalidOperationException($"{speaker.Engine} wrote no audio for '{unit[i].Text}' (speaker {speaker.Id}).");
            }

            if (soxPitch)
            {
                // Voices without a pitch control (flite, festival diphones) get their pitch from sox's WSOLA pitch shift, so
                // one voice yields several talkers; the duration is kept (the engine's rate sets the tempo).
                string shifted = paths[i] + ".pitch.wav";
                Interlocked.Increment(ref _processes);
                await ProcessRunner.RunAsync("sox", ["-R", paths[i], shifted, "pitch", SpeakerCatalog.Cents(speaker.PitchPercent).ToString("0.#", inv)], Timeout, ct).ConfigureAwait(false);
                File.Move(shifted, paths[i], overwrite: true);
            }

            float[] audio = ReadAt16k(paths[i]);
            File.Delete(paths[i]);
            if (!SpeechTrim.TryFindSpeech(audio, out int start, out int end))
            {
                throw new InvalidOperationException($"{speaker.Engine} produced only silence for '{unit[i].Text}' (speaker {speaker.Id}).");
            }

            _cache[(speaker.Id, unit[i].Text)] = audio[start..end];
        }
    }

    private static float[] ReadAt16k(string path)
    {
        using var source = new AudioFileSource(path, SampleRateHz);
        var audio = new float[source.OutputSampleCount];
        int filled = 0;
        while (filled < audio.Length)
        {
            int n = source.Read(audio.AsSpan(filled));
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        return filled == audio.Length ? audio : audio[..filled];
    }
}
