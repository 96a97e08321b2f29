using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Import;

namespace EdgeKws.Labeling.Tests.Import;

/// <summary>The corpus generator's real sidecars (CTM, TextGrid, JSON) read back equal to its manifest.</summary>
[Collection(SmallCorpusCollection.Name)]
public sealed class CorpusSidecar_Tests(SmallCorpusFixture corpus)
{
    [Fact]
    public void Every_sentence_sidecar_reads_back_the_manifest_words()
    {
        int checkedFiles = 0;
        foreach (CorpusFile f in corpus.Manifest.Files.Where(f => f.Kind is FileKind.Sentence or FileKind.Keyword))
        {
            string stem = Path.Combine(corpus.Root, f.Path)[..^4];
            WordAlignment grid = TextGridReader.ReadWords(stem + ".TextGrid");
            WordAlignment ctm = Assert.Single(CtmReader.Read(stem + ".ctm"));
            WordAlignment json = WordIntervalTableReader.ReadJson(stem + ".json");
            Assert.Equal(f.Words.Select(w => w.Word), grid.Words.Select(w => w.Word));
            Assert.Equal(f.Words.Select(w => w.Word), ctm.Words.Select(w => w.Word));
            for (int i = 0; i < f.Words.Count; i++)
            {
                Assert.Equal(f.Words[i].StartMs, grid.Words[i].StartMs, 0.001);
                // Start and duration are each rounded to 0.1 ms in the CTM, so the end is within 0.1 ms.
                Assert.Equal(f.Words[i].EndMs, ctm.Words[i].EndMs, 0.1 + 1e-9);
                Assert.Equal(f.Words[i].StartMs, json.Words[i].StartMs);
            }

            checkedFiles++;
        }

        Assert.True(checkedFiles >= 20, $"only {checkedFiles} files checked");
    }
}
