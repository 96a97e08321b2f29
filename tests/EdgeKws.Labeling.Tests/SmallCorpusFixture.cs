using EdgeKws.Corpus;
using EdgeKws.Corpus.Manifest;

namespace EdgeKws.Labeling.Tests;

/// <summary>The corpus generator's small preset (real espeak-ng, flite, festival, sox), generated once for the collection.</summary>
public sealed class SmallCorpusFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "edgekws-labeling-corpus-" + Guid.NewGuid().ToString("N"));

    public CorpusManifest Manifest { get; private set; } = null!;

    public async Task InitializeAsync() => Manifest = await CorpusGenerator.GenerateAsync(CorpusOptions.Small(Root, seed: 11) with { WriteCleanReference = true });

    public Task DisposeAsync()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }

        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class SmallCorpusCollection : ICollectionFixture<SmallCorpusFixture>
{
    public const string Name = "small corpus";
}
