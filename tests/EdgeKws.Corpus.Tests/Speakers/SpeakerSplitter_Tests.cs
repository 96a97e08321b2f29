using EdgeKws.Corpus.Speakers;

namespace EdgeKws.Corpus.Tests.Speakers;

public sealed class SpeakerSplitter_Tests
{
    private static readonly string[] Engines = [TtsEngine.Espeak, TtsEngine.Flite];

    [Fact]
    public void Rate_and_pitch_variants_of_one_voice_share_a_split()
    {
        // 100 speakers exceed the distinct voices, so voices repeat at other rates and pitches.
        IReadOnlyList<Speaker> speakers = SpeakerCatalog.Choose(3, 100, Engines);
        Assert.Equal(100, speakers.Select(s => s.Id).Distinct().Count());
        Assert.True(speakers.Select(s => s.VoiceKey).Distinct().Count() < 100);
        var split = SpeakerSplitter.Split(3, speakers, 0.2, 0.15);
        Assert.All(speakers.GroupBy(s => s.VoiceKey), g => Assert.Single(g.Select(s => split[s.Id]).Distinct()));
    }

    [Fact]
    public void Held_out_splits_take_voices_from_every_engine_when_they_can()
    {
        IReadOnlyList<Speaker> speakers = SpeakerCatalog.Choose(11, 24, Engines);
        var split = SpeakerSplitter.Split(11, speakers, 0.2, 0.15);
        Assert.Equal(2, speakers.Where(s => split[s.Id] == CorpusSplit.Test).Select(s => s.Engine).Distinct().Count());
        Assert.Equal(2, speakers.Where(s => split[s.Id] == CorpusSplit.Validation).Select(s => s.Engine).Distinct().Count());
    }

    [Fact]
    public void Choice_and_split_depend_on_the_seed_and_only_on_it()
    {
        var a = SpeakerCatalog.Choose(1, 12, Engines);
        Assert.Equal(a, SpeakerCatalog.Choose(1, 12, Engines));
        Assert.NotEqual(a.Select(s => s.Id), SpeakerCatalog.Choose(2, 12, Engines).Select(s => s.Id));
        Assert.Equal(SpeakerSplitter.Split(1, a, 0.2, 0.15), SpeakerSplitter.Split(1, a, 0.2, 0.15));
    }

    [Fact]
    public void Refuses_fewer_voices_than_splits()
    {
        var two = new[] { new Speaker(TtsEngine.Flite, "slt", "", 100, 100), new Speaker(TtsEngine.Flite, "awb", "", 100, 100) };
        var e = Assert.Throws<ArgumentException>(() => SpeakerSplitter.Split(1, two, 0.2, 0.15));
        Assert.Contains("at least 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Many_speakers_put_every_voice_of_a_small_engine_into_test_unless_each_engine_keeps_half_in_train()
    {
        // 200 speakers: 4 flite voices among 80-odd; the round-robin held-out fill takes all four.
        IReadOnlyList<Speaker> speakers = SpeakerCatalog.Choose(42, 200, Engines);
        int FliteVoices(IReadOnlyDictionary<string, string> split, string name) =>
            speakers.Where(s => s.Engine == TtsEngine.Flite && split[s.Id] == name).Select(s => s.VoiceKey).Distinct().Count();
        var roundRobin = SpeakerSplitter.Split(42, speakers, 0.2, 0.15);
        Assert.Equal(0, FliteVoices(roundRobin, CorpusSplit.Train));
        var kept = SpeakerSplitter.Split(42, speakers, 0.2, 0.15, keepEveryEngineInTrain: true);
        Assert.Equal(2, FliteVoices(kept, CorpusSplit.Train));
        Assert.Equal(1, FliteVoices(kept, CorpusSplit.Test));
        Assert.Equal(1, FliteVoices(kept, CorpusSplit.Validation));
        int Voices(IReadOnlyDictionary<string, string> split, string name) => speakers.Where(s => split[s.Id] == name).Select(s => s.VoiceKey).Distinct().Count();
        Assert.Equal(Voices(roundRobin, CorpusSplit.Test), Voices(kept, CorpusSplit.Test));
        Assert.Equal(Voices(roundRobin, CorpusSplit.Validation), Voices(kept, CorpusSplit.Validation));
    }
}
