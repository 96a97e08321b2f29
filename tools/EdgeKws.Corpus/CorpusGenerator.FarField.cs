using EdgeKws.Acoustics;
using EdgeKws.Corpus.FarField;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus;

/// <summary>
/// Far-field rendering (<see cref="CorpusOptions.FarField"/>): every clip and stream segment is said in a room of its
/// split's bank (<see cref="RoomChannel"/>), picked up by a coloured microphone, mixed with home noise at an SNR
/// measured at the microphone, and set to a peak level drawn from the options. Word times stay exact: the impulse
/// responses put the direct path at sample 0, so a word's interval is where its direct sound is (the reverberant tail
/// runs on after it).
/// </summary>
public sealed partial class CorpusGenerator
{
    /// <summary>Level of the continuous floor of far-field streams (pink, dBFS RMS): a quiet room's microphone self-noise.</summary>
    public const double FarFieldFloorDbFs = -70;

    private Dictionary<string, List<(Speaker Speaker, string[] Words)>> _streamPools = new(StringComparer.Ordinal);

    /// <summary>
    /// Unit-RMS noise for far-field items. Outside the test split the white/pink/brown colours are fresh C# draws, so the
    /// sox beds (test streams' noise) are never heard in training or threshold choice.
    /// </summary>
    private float[] FarFieldNoise(string kind, int length, Speaker? exclude, string split, DeterministicRandom rng) =>
        split != CorpusSplit.Test && kind is NoiseKind.White or NoiseKind.Pink or NoiseKind.Brown
            ? SyntheticSources.Noise(kind, length, rng)
            : MakeNoise(kind, length, exclude, split, rng);

    private static bool Reverberates(string noiseKind) => noiseKind is NoiseKind.Babble or NoiseKind.Tv or NoiseKind.Music;

    /// <summary>The preset a microphone colouring was drawn around (its name up to the first space): the breakdown's group.</summary>
    private static string MicrophoneClass(MicrophoneResponse mic)
    {
        int cut = mic.Name.IndexOfAny([' ', '(', '~']);
        return cut > 0 ? mic.Name[..cut] : mic.Name;
    }

    private static double SetPeak(float[] x, double peakDbFs)
    {
        float peak = SnrMixer.Peak(x);
        double factor = peak > 0 ? Math.Pow(10, peakDbFs / 20) / peak : 1;
        SnrMixer.Scale(x, factor);
        return factor;
    }

    private static float[] Padded(float[] x, int tail)
    {
        var y = new float[x.Length + tail];
        x.CopyTo(y, 0);
        return y;
    }

    /// <summary>A television: one talker at a time (other voices of the split) through a small loudspeaker, often over music.</summary>
    private float[] Television(int length, Speaker? exclude, string split, DeterministicRandom rng)
    {
        var others = _speakers.Where(s => _split[s.Id] == split && s.VoiceKey != exclude?.VoiceKey).ToList();
        if (others.Count == 0)
        {
            others = [.. _speakers.Where(s => _split[s.Id] == split)];
        }

        var x = new float[length];
        int at = rng.Next(SampleRateHz / 4);
        while (at < length)
        {
            // A presenter talks for a while, then another one.
            Speaker talker = rng.Pick(others);
            List<string> words = CachedWords(talker);
            int turnEnd = at + (int)(rng.NextDouble(1.5, 6) * SampleRateHz);
            while (at < Math.Min(turnEnd, length))
            {
                float[] w = _tts.Get(talker, rng.Pick(words));
                for (int i = 0; i < w.Length && at + i < length; i++)
                {
                    x[at + i] += w[i];
                }

                at += w.Length + Samples(rng.NextDouble(30, rng.NextDouble() < 0.15 ? 400 : 140));
            }

            at += Samples(rng.NextDouble(100, 600));
        }

        SyntheticSources.UnitRms(x);
        if (rng.NextDouble() < 0.5)
        {
            float[] music = SyntheticSources.Music(length, rng);
            SnrMixer.AddScaled(x, music, Math.Pow(10, rng.NextDouble(-20, -6) / 20));
        }

        // A TV loudspeaker: no bass, no top.
        new Biquad(new BiquadSpec(BiquadKind.HighPass, rng.NextDouble(120, 300), 0.707), SampleRateHz).Process(x);
        new Biquad(new BiquadSpec(BiquadKind.LowPass, rng.NextDouble(4500, 7000), 0.707), SampleRateHz).Process(x);
        return SyntheticSources.UnitRms(x);
    }

    private void RenderFarFieldClip(ClipPlan plan)
    {
        var rng = DeterministicRandom.For(_o.Seed, "clip/" + plan.Name);
        (float[] dry, List<SampleInterval> intervals) = Assemble(plan.Speaker, plan.Chunks, rng, rng.NextDouble(150, 400), rng.NextDouble(150, 400));
        NormaliseToReference(dry, intervals, SnrMixer.ReferenceLevelDbFs);
        RoomChannel channel = _channels[plan.Split];
        RoomDraw room = channel.PickRoom(rng);
        MicrophoneResponse mic = RoomChannel.PickMicrophone(rng);
        float[] speech = room.Apply(dry);
        mic.Apply(speech, SampleRateHz);

        string noiseKind = rng.Pick(_o.NoiseKinds);
        double? snr = noiseKind == NoiseKind.None ? null : rng.Pick(_o.SnrDbChoices);
        float[] mixed = (float[])speech.Clone();
        if (snr is double snrDb)
        {
            float[] noise = FarFieldNoise(noiseKind, mixed.Length, plan.Speaker, plan.Split, rng);
            if (Reverberates(noiseKind))
            {
                noise = room.Apply(noise);
            }

            mic.Apply(noise, SampleRateHz);
            SnrMixer.AddScaled(mixed, noise, SnrMixer.NoiseScaleForSnr(speech, noise, intervals, snrDb));
        }

        bool clip = rng.NextDouble() < _o.ClipFraction;
        double level = clip ? rng.NextDouble(3, 9) : Math.Round(rng.NextDouble(_o.LevelDbFsMin, _o.LevelDbFsMax) * 2) / 2;
        double factor = SetPeak(mixed, level);
        SnrMixer.Scale(speech, factor);
        double gainDb = Math.Round(20 * Math.Log10(factor), 3);

        string path = plan.Name + ".wav";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(_root, path))!);
        WavFile.Write(Path.Combine(_root, path), mixed, SampleRateHz, WavSampleFormat.Pcm16);
        string? cleanPath = null;
        if (_o.WriteCleanReference && snr is not null)
        {
            cleanPath = plan.Name + ".clean.wav";
            WavFile.Write(Path.Combine(_root, cleanPath), speech, SampleRateHz, WavSampleFormat.Pcm16);
        }

        var words = new List<WordInterval>();
        for (int i = 0; i < intervals.Count; i++)
        {
            words.Add(new WordInterval(plan.Chunks[i], Ms(intervals[i].Start), Ms(intervals[i].End)));
        }

        var events = new List<KeywordEvent>();
        if (KeywordSpan(plan) is (int first, int last))
        {
            events.Add(new KeywordEvent(plan.Keyword!, words[first].StartMs, words[last].EndMs, plan.Speaker.Id, snr, gainDb, room.Class, MicrophoneClass(mic), noiseKind));
        }

        Add(new CorpusFile
        {
            Path = path,
            CleanPath = cleanPath,
            Split = plan.Split,
            Speaker = plan.Speaker.Id,
            Kind = plan.Kind,
            Transcript = plan.Transcript,
            Keyword = plan.Keyword,
            SampleCount = mixed.Length,
            DurationMs = Ms(mixed.Length),
            SpeechStartMs = words[0].StartMs,
            SpeechEndMs = words[^1].EndMs,
            Words = words,
            KeywordEvents = events,
            Noise = noiseKind,
            SnrDb = snr,
            GainDb = gainDb,
            Clipped = SnrMixer.Peak(mixed) * Pcm16.Scale > short.MaxValue,
            Room = room.Id,
            RoomClass = room.Class,
            Microphone = mic.Name,
            LevelDbFs = level,
        });
    }

    /// <summary>The chunks the plan's keyword spans (one chunk when the phrase was synthesised whole), or null.</summary>
    private static (int First, int Last)? KeywordSpan(ClipPlan plan)
    {
        if (plan.Keyword is null)
        {
            return null;
        }

        if (plan.Chunks.Length == 1 && plan.Chunks[0] == plan.Keyword)
        {
            return (0, 0);
        }

        string[] kw = SentenceBank.Words(plan.Keyword);
        for (int i = 0; i + kw.Length <= plan.Chunks.Length; i++)
        {
            if (plan.Chunks.AsSpan(i, kw.Length).SequenceEqual(kw))
            {
                return (i, i + kw.Length - 1);
            }
        }

        return null;
    }

    // Far-field negative streams, cumulative shares: speech 33 %, near miss 12 %, silence 5 %, noise 12 %, babble 10 %,
    // tv 14 %, music 14 %.
    private static readonly double[] FarFieldShares = [0.33, 0.45, 0.50, 0.62, 0.72, 0.86];

    private void RenderFarFieldNegativeStream(NegativeStreamStyle style, List<(Speaker Speaker, string[] Words)> pool)
    {
        string name = $"{style.Split}/streams/negative-000";
        var rng = DeterministicRandom.For(StreamSeed, style.RngName + "/far-field");
        long total = (long)Math.Round(style.Minutes * 60 * SampleRateHz);
        var splitSpeakers = SplitSpeakers(style.Split).ToList();
        IReadOnlyList<string> nearMisses = style.Split == CorpusSplit.Train ? _o.NearMisses : [.. _o.NearMisses, .. _o.HeldOutNearMisses];
        bool test = style.Split == CorpusSplit.Test;
        // Steady noises: the test stream's colours are sox beds (never heard in training), the others C# draws.
        string[] noiseKinds = [NoiseKind.White, NoiseKind.Pink, NoiseKind.Brown, NoiseKind.Hum, NoiseKind.Fan, NoiseKind.Kitchen];
        RoomChannel channel = _channels[style.Split];
        var segments = new List<StreamSegment>();
        var words = new List<WordInterval>();
        Directory.CreateDirectory(Path.Combine(_root, style.Split, "streams"));
        using var writer = new WavWriter(Path.Combine(_root, name + ".wav"), SampleRateHz, 1, WavSampleFormat.Pcm16);
        Func<float[], int, int> fillFloor = Floor(style.Split, "negative");
        int floorOffset = NoiseBank.RandomOffset(rng);
        double floorRms = Math.Pow(10, FarFieldFloorDbFs / 20);
        long at = 0;
        int n = 0;
        while (at < total)
        {
            double r = rng.NextDouble();
            if (r >= FarFieldShares[0] && r < FarFieldShares[1] && segments.Count > 0 && segments[^1].Kind == "near-miss")
            {
                r = FarFieldShares[2] - 0.01; // two near misses in a row could spell the wake phrase across the gap
            }

            float[] seg;
            string kind;
            double? segmentLevel = null;
            string? noise = null, speaker = null, transcript = null;
            List<SampleInterval>? speechIntervals = null;
            string[]? chunks = null;
            (double Min, double Max) levels = style.NoiseDb;
            if (r < FarFieldShares[1])
            {
                bool nearMiss = r >= FarFieldShares[0];
                Speaker sp;
                (sp, chunks) = nearMiss ? (rng.Pick(splitSpeakers), new[] { rng.Pick(nearMisses) }) : rng.Pick(pool);
                (seg, speechIntervals) = Assemble(sp, chunks, rng, 0, 0);
                kind = nearMiss ? "near-miss" : "speech";
                speaker = sp.Id;
                transcript = string.Join(' ', chunks);
                levels = style.SpeechDb;
            }
            else if (r < FarFieldShares[2])
            {
                seg = new float[Samples(rng.NextDouble(1000, 5000))];
                kind = "silence";
            }
            else if (r < FarFieldShares[3])
            {
                noise = rng.Pick(noiseKinds);
                int length = Samples(rng.NextDouble(1000, 4000));
                seg = FarFieldNoise(noise, length, null, style.Split, rng);
                kind = "noise";
            }
            else if (r < FarFieldShares[4])
            {
                seg = MakeNoise(NoiseKind.Babble, Samples(rng.NextDouble(1000, 4000)), null, style.Split, rng);
                kind = "babble";
            }
            else if (r < FarFieldShares[5])
            {
                seg = Television(Samples(rng.NextDouble(2000, 8000)), null, style.Split, rng);
                kind = "tv";
                levels = style.MusicDb;
            }
            else if (test && rng.NextDouble() < 0.5)
            {
                // Half of the test stream's music is sox's plucked chords, which no training stream contains.
                int chords = rng.Next(2, 7);
                seg = new float[chords * SampleRateHz];
                for (int c = 0; c < chords; c++)
                {
                    rng.Pick(_noise.ChordClips).CopyTo(seg, c * SampleRateHz);
                }

                kind = "tones";
                levels = style.MusicDb;
            }
            else
            {
                seg = SyntheticSources.Music(Samples(rng.NextDouble(1000, 8000)), rng);
                kind = "music";
                levels = style.MusicDb;
            }

            int gap = Samples(rng.NextDouble(200, 1500));
            float[] block = Padded(seg, gap);
            RoomDraw room = kind is "silence" || (kind == "noise" && noise != NoiseKind.Kitchen) ? RoomDraw.Dry : channel.PickRoom(rng);
            block = room.Apply(block);
            if (kind != "silence")
            {
                RoomChannel.PickMicrophone(rng).Apply(block, SampleRateHz);
                double level = rng.NextDouble(levels.Min, levels.Max);
                if (speechIntervals is not null)
                {
                    NormaliseToReference(block, speechIntervals, level);
                }
                else
                {
                    double ms = SnrMixer.MeanSquare(block.AsSpan(0, seg.Length).ToArray());
                    SnrMixer.Scale(block, ms > 0 ? Math.Pow(10, level / 20) / Math.Sqrt(ms) : 0);
                }

                Fade(block, Samples(20));
                segmentLevel = Math.Round(level, 2);
            }

            if (block.Length > total - at)
            {
                block = block[..(int)(total - at)];
            }

            var floor = new float[block.Length];
            floorOffset = fillFloor(floor, floorOffset);
            SnrMixer.AddScaled(block, floor, floorRms);
            writer.Write(block);
            long end = at + block.Length;
            segments.Add(new StreamSegment(kind, Ms(at), Math.Min(Ms(at + seg.Length), Ms(end)), speaker, transcript, noise,
                segmentLevel, room.Class));
            if (speechIntervals is not null)
            {
                long start = at;
                words.AddRange(speechIntervals.Select((v, i) => new WordInterval(chunks![i], Ms(start + v.Start), Ms(start + v.End), speaker)).Where(w => w.EndMs <= Ms(end)));
            }

            at = end;
            if (++n % 200 == 0)
            {
                _log($"negative stream ({style.Split}, far-field): {at / (60.0 * SampleRateHz):0.0}/{style.Minutes:0.0} min");
            }
        }

        writer.Dispose();
        Add(new CorpusFile
        {
            Path = name + ".wav",
            Split = style.Split,
            Kind = FileKind.NegativeStream,
            Transcript = "",
            SampleCount = total,
            DurationMs = Ms(total),
            Words = words,
            KeywordEvents = [],
            Segments = segments,
        });
    }

    private void RenderFarFieldPositiveStream(string split, int keywords)
    {
        string name = $"{split}/streams/positive-000";
        var rng = DeterministicRandom.For(StreamSeed, "stream/positive/far-field/" + split);
        var speakers = SplitSpeakers(split).ToList();
        RoomChannel channel = _channels[split];
        List<(Speaker Speaker, string[] Words)> pool = _streamPools.GetValueOrDefault(split) ?? [];
        string wake = _o.Keywords[0];
        var events = new List<KeywordEvent>();
        var words = new List<WordInterval>();
        var segments = new List<StreamSegment>();
        Directory.CreateDirectory(Path.Combine(_root, split, "streams"));
        using var writer = new WavWriter(Path.Combine(_root, name + ".wav"), SampleRateHz, 1, WavSampleFormat.Pcm16);
        Func<float[], int, int> fillFloor = Floor(split, "positive");
        int floorOffset = NoiseBank.RandomOffset(rng);
        double floorRms = Math.Pow(10, FarFieldFloorDbFs / 20);
        long at = 0;
        for (int k = 0; k <= keywords; k++)
        {
            int gap = Samples(rng.NextDouble(1500, 4500));
            float[] mix = [];
            if (k < keywords)
            {
                string keyword = _o.Keywords.Count == 1 || rng.NextDouble() < _o.WakePhraseShare ? wake : rng.Pick(_o.Keywords.Skip(1).ToList());
                Speaker sp = rng.Pick(speakers);
                float[] kw = _tts.Get(sp, keyword);
                string[]? command = null;
                float[] cmd = [];
                List<SampleInterval> cmdIntervals = [];
                var own = pool.Where(p => p.Speaker.Id == sp.Id).ToList();
                if (keyword == wake && own.Count > 0 && rng.NextDouble() < _o.CommandAfterWakeShare)
                {
                    command = rng.Pick(own).Words;
                    (cmd, cmdIntervals) = Assemble(sp, command, rng, 0, 0);
                }

                // Layout: 1 s of room noise, the keyword, [100-300 ms, a command], 0.7 s for the reverberant tail.
                int lead = SampleRateHz, pause = command is null ? 0 : Samples(rng.NextDouble(100, 300));
                var dry = new float[lead + kw.Length + pause + cmd.Length + Samples(700)];
                kw.CopyTo(dry, lead);
                cmd.CopyTo(dry, lead + kw.Length + pause);
                var kwInterval = new SampleInterval(lead, lead + kw.Length);
                NormaliseToReference(dry, [kwInterval], SnrMixer.ReferenceLevelDbFs);
                RoomDraw room = channel.PickRoom(rng);
                MicrophoneResponse mic = RoomChannel.PickMicrophone(rng);
                float[] speech = room.Apply(dry);
                mic.Apply(speech, SampleRateHz);
                string noiseKind = rng.Pick(_o.NoiseKinds);
                double? snr = null;
                mix = (float[])speech.Clone();
                if (noiseKind != NoiseKind.None)
                {
                    snr = rng.Pick(_o.StreamSnrDbChoices ?? _o.SnrDbChoices);
                    float[] noise = FarFieldNoise(noiseKind, speech.Length, sp, split, rng);
                    if (Reverberates(noiseKind))
                    {
                        noise = room.Apply(noise);
                    }

                    mic.Apply(noise, SampleRateHz);
                    Fade(noise, Samples(200));
                    SnrMixer.AddScaled(mix, noise, SnrMixer.NoiseScaleForSnr(speech, noise, [kwInterval], snr.Value));
                }

                (double lo, double hi) = _o.StreamLevelDbFs is [double a, double b] ? (a, b) : (_o.LevelDbFsMin, _o.LevelDbFsMax);
                double level = Math.Round(rng.NextDouble(lo, hi) * 2) / 2;
                double gainDb = Math.Round(20 * Math.Log10(SetPeak(mix, level)), 3);
                double s = Ms(at + gap + kwInterval.Start), e = Ms(at + gap + kwInterval.End);
                events.Add(new KeywordEvent(keyword, s, e, sp.Id, snr, gainDb, room.Class, MicrophoneClass(mic), noiseKind));
                words.Add(new WordInterval(keyword, s, e, sp.Id));
                long cmdStart = at + gap + lead + kw.Length + pause;
                for (int i = 0; i < cmdIntervals.Count; i++)
                {
                    words.Add(new WordInterval(command![i], Ms(cmdStart + cmdIntervals[i].Start), Ms(cmdStart + cmdIntervals[i].End), sp.Id));
                }

                segments.Add(new StreamSegment("keyword", s, e, sp.Id, command is null ? keyword : keyword + " " + string.Join(' ', command), noiseKind, level, room.Class));
            }

            var block = new float[gap + mix.Length];
            mix.CopyTo(block, gap);
            var floor = new float[block.Length];
            floorOffset = fillFloor(floor, floorOffset);
            SnrMixer.AddScaled(block, floor, floorRms);
            writer.Write(block);
            at += block.Length;
        }

        writer.Dispose();
        Add(new CorpusFile
        {
            Path = name + ".wav",
            Split = split,
            Kind = FileKind.PositiveStream,
            Transcript = "",
            SampleCount = at,
            DurationMs = Ms(at),
            Words = words,
            KeywordEvents = events,
            Segments = segments,
            Noise = NoiseKind.Pink,
        });
    }
}
