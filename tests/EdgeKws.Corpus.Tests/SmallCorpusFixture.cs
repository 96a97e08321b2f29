using EdgeKws.Corpus.Manifest;

namespace EdgeKws.Corpus.Tests;

/// <summary>Generates the small preset (with clean references) once for all tests of the collection; real engines, real sox.</summary>
public sealed class SmallCorpusFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "edgekws-corpus-tests-" + Guid.NewGuid().ToString("N"));

    public CorpusManifest Manifest { get; private set; } = null!;

    public CorpusOptions Options => CorpusOptions.Small(Root, seed: 7) with { WriteCleanReference = true, ClipFraction = 0.1 };

    public async Task InitializeAsync() => Manifest = await CorpusGenerator.GenerateAsync(Options);

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
