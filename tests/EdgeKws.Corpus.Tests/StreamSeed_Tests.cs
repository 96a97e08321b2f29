using EdgeKws.Corpus.Manifest;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Tests;

/// <summary>
/// Another day of the same household: one corpus seed (speakers, splits) with another stream seed gives the same voices saying
/// new things at new times, and keyword takes make each "hey edge" one of a few renditions of that voice.
/// </summary>
public sealed class StreamSeed_Tests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgekws-stream-seed-" + Guid.NewGuid().ToString("N"));
    private CorpusManifest _plain = null!;
    private CorpusManifest _day1 = null!;
    private CorpusManifest _day2 = null!;

    private CorpusOptions Options(string name) => new()
    {
        OutputDirectory = Path.Combine(_root, name),
        Seed = 1051,
        SpeakerCount = 3,
        Keywords = ["hey edge"],
        TakesPerKeyword = 1,
        SentencesPerSpeaker = 1,
        StreamSentencesPerSpeaker = 4,
        NegativeStreamMinutes = 0.2,
        PositiveStreamKeywords = 8,
        Engines = ["espeak"],
        ClipFraction = 0,
    };

    public async Task InitializeAsync()
    {
        _plain = await CorpusGenerator.GenerateAsync(Options("plain"));
        _day1 = await CorpusGenerator.GenerateAsync(Options("day1") with { StreamSeed = 1051 });
        _day2 = await CorpusGenerator.GenerateAsync(Options("day2") with { StreamSeed = 9_000_017, StreamKeywordTakes = 3 });
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    private static CorpusFile Positive(CorpusManifest m) => m.Files.Single(f => f.Kind == FileKind.PositiveStream);

    private byte[] Bytes(string corpus, CorpusFile f) => File.ReadAllBytes(Path.Combine(_root, corpus, f.Path));

    [Fact]
    public void A_stream_seed_equal_to_the_seed_and_one_take_change_no_byte()
    {
        Assert.Equal(Bytes("plain", Positive(_plain)), Bytes("day1", Positive(_day1)));
        CorpusFile negative = _plain.Files.Single(f => f.Kind == FileKind.NegativeStream);
        Assert.Equal(Bytes("plain", negative), Bytes("day1", _day1.Files.Single(f => f.Kind == FileKind.NegativeStream)));
    }

    [Fact]
    public void Another_stream_seed_keeps_the_speakers_and_changes_what_they_say_and_when()
    {
        Assert.Equal(_day1.Speakers, _day2.Speakers);
        CorpusFile p1 = Positive(_day1), p2 = Positive(_day2);
        // The same test speaker says every keyword on both days ...
        Assert.Single(p1.KeywordEvents.Select(k => k.Speaker).Concat(p2.KeywordEvents.Select(k => k.Speaker)).Distinct());
        // ... at other times, and the day's negative stream holds other words.
        Assert.NotEqual(p1.KeywordEvents.Select(k => k.StartMs), p2.KeywordEvents.Select(k => k.StartMs));
        static string Said(CorpusManifest m) => string.Join(' ', m.Files.Single(f => f.Kind == FileKind.NegativeStream).Words.Select(w => w.Word));
        Assert.NotEqual(Said(_day1), Said(_day2));
        Assert.NotEqual(Bytes("day1", p1), Bytes("day2", p2));
    }

    [Fact]
    public void Keyword_takes_make_renditions_of_different_lengths_where_one_take_repeats_one()
    {
        static int Lengths(CorpusFile f) => f.KeywordEvents.Select(k => Math.Round(k.EndMs - k.StartMs)).Distinct().Count();
        Assert.Equal(1, Lengths(Positive(_day1)));
        Assert.InRange(Lengths(Positive(_day2)), 2, 3);
        using var reader = new WavReader(Path.Combine(_root, "day2", Positive(_day2).Path));
        Assert.Equal(Positive(_day2).SampleCount, reader.Format.FrameCount);
    }
}
