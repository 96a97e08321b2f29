using EdgeKws.Labeling.Import;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Labeling.Tests.Import;

public sealed class SpeechCommandsReader_Tests
{
    private static void Clip(TempDirectory dir, string rel) => WavFile.Write(dir.File(rel), new float[1600], 16_000, WavSampleFormat.Pcm16);

    [Fact]
    public void Assigns_splits_from_the_lists_and_speakers_from_the_hash_prefix()
    {
        using var dir = new TempDirectory();
        Clip(dir, "yes/0a7c2a8d_nohash_0.wav");
        Clip(dir, "yes/0a7c2a8d_nohash_1.wav");
        Clip(dir, "no/1b2c3d4e_nohash_0.wav");
        Clip(dir, "stop/ffee0011_nohash_0.wav");
        Clip(dir, "_background_noise_/white_noise.wav");
        dir.File("validation_list.txt", "no/1b2c3d4e_nohash_0.wav\n");
        dir.File("testing_list.txt", "stop/ffee0011_nohash_0.wav\n");
        IReadOnlyList<LabeledClip> clips = SpeechCommandsReader.Read(dir.Path, out IReadOnlyList<string> noise);
        Assert.Equal(4, clips.Count);
        Assert.Single(noise);
        LabeledClip no = clips.Single(c => c.Label == "no");
        Assert.Equal(("1b2c3d4e", SplitNames.Validation), (no.Speaker, no.Split));
        Assert.Equal(SplitNames.Test, clips.Single(c => c.Label == "stop").Split);
        Assert.All(clips.Where(c => c.Label == "yes"), c => Assert.Equal((SplitNames.Train, "0a7c2a8d"), (c.Split, c.Speaker)));
    }

    [Fact]
    public void Names_the_list_line_of_a_missing_clip()
    {
        using var dir = new TempDirectory();
        Clip(dir, "yes/0a7c2a8d_nohash_0.wav");
        string list = dir.File("testing_list.txt", "yes/0a7c2a8d_nohash_0.wav\nyes/deadbeef_nohash_3.wav\n");
        var e = Assert.Throws<LabelFormatException>(() => SpeechCommandsReader.Read(dir.Path, out _));
        Assert.Equal((list, 2), (e.FilePath, e.Line));
    }

    [Fact]
    public void Refuses_a_clip_in_both_lists()
    {
        using var dir = new TempDirectory();
        Clip(dir, "yes/0a7c2a8d_nohash_0.wav");
        dir.File("validation_list.txt", "yes/0a7c2a8d_nohash_0.wav\n");
        dir.File("testing_list.txt", "\nyes/0a7c2a8d_nohash_0.wav\n");
        var e = Assert.Throws<LabelFormatException>(() => SpeechCommandsReader.Read(dir.Path, out _));
        Assert.Equal(2, e.Line);
        Assert.Contains("validation list", e.Message);
    }
}

public sealed class MswcReader_Tests
{
    [Fact]
    public void Reads_splits_speakers_validity_and_alignments()
    {
        using var dir = new TempDirectory();
        WavFile.Write(dir.File("clips/edge/common_voice_en_1.wav"), new float[16_000], 16_000, WavSampleFormat.Pcm16);
        WavFile.Write(dir.File("clips/edge/common_voice_en_2.wav"), new float[16_000], 16_000, WavSampleFormat.Pcm16);
        WavFile.Write(dir.File("clips/stop/common_voice_en_3.wav"), new float[16_000], 16_000, WavSampleFormat.Pcm16);
        dir.File("alignments/edge/common_voice_en_1.TextGrid", EdgeKws.Corpus.Manifest.GroundTruthWriter.TextGrid(1000, [new("edge", 320, 700)]));
        dir.File("en_splits.csv", "SET,LINK,WORD,VALID,SPEAKER,GENDER\nTRAIN,edge/common_voice_en_1.opus,edge,True,spk1,MALE\nDEV,edge/common_voice_en_2.opus,edge,True,spk2,FEMALE\nTEST,stop/common_voice_en_3.opus,stop,False,spk3,NAN\n");
        IReadOnlyList<LabeledClip> clips = MswcReader.Read(dir.Path);
        Assert.Equal(2, clips.Count);
        Assert.Equal((SplitNames.Train, "spk1", "edge/common_voice_en_1.wav"), (clips[0].Split, clips[0].Speaker, clips[0].RelativePath));
        Assert.Equal(320, clips[0].Word!.StartMs, 6);
        Assert.Equal("mswc+praat-textgrid", clips[0].Source.Tool);
        Assert.Equal(SplitNames.Validation, clips[1].Split);
        Assert.Null(clips[1].Word);
    }

    [Fact]
    public void Names_the_row_with_an_unknown_set()
    {
        using var dir = new TempDirectory();
        WavFile.Write(dir.File("clips/edge/a.wav"), new float[16_000], 16_000, WavSampleFormat.Pcm16);
        string csv = dir.File("x_splits.csv", "SET,LINK,WORD,VALID,SPEAKER,GENDER\nTRAIN,edge/a.wav,edge,True,s,MALE\nHOLDOUT,edge/a.wav,edge,True,s,MALE\n");
        var e = Assert.Throws<LabelFormatException>(() => MswcReader.Read(dir.Path));
        Assert.Equal((csv, 3), (e.FilePath, e.Line));
        Assert.Contains("HOLDOUT", e.Message);
    }
}
