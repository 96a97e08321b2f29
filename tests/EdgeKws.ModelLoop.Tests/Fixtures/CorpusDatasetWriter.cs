using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeKws.Corpus.Manifest;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;

namespace EdgeKws.ModelLoop.Tests.Fixtures;

/// <summary>
/// Writes a small <c>edgekws-dataset/1</c> directory (docs/dataset-format.md) from a generated corpus,
/// with features from the device's own <see cref="MfccExtractor"/>: a test fixture standing in for the
/// gateway's dataset export (written separately). Classes: background and "hey edge".
/// Keyword windows are 1 s centred on each "hey edge" event; background windows come from
/// near-misses, the other keywords, keyword-free stretches of sentences every 0.5 s, and (test
/// split) the negative stream every 1 s.
/// </summary>
public static class CorpusDatasetWriter
{
    public const string Keyword = "hey edge";
    private const int Frames = 98;

    public static void Write(string corpusRoot, CorpusManifest corpus, string outputDirectory)
    {
        var config = MfccConfig.Default;
        int coeffs = config.CoefficientCount;
        var rows = new Dictionary<string, (List<float> X, List<long> Y, List<string> Lineage)>
        {
            ["train"] = ([], [], []),
            ["validation"] = ([], [], []),
            ["test"] = ([], [], []),
        };
        foreach (var file in corpus.Files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            if (!rows.TryGetValue(file.Split, out var split)) continue;
            bool stream = file.Kind == FileKind.NegativeStream;
            if (file.Kind is not (FileKind.Keyword or FileKind.NearMiss or FileKind.Sentence or FileKind.PositiveStream) && !stream) continue;
            float[] mfcc = Features(Path.Combine(corpusRoot, file.Path), config, out int frames);
            var events = file.KeywordEvents.Where(e => e.Keyword == Keyword).ToList();

            void Add(int start, long label, string why)
            {
                split.X.AddRange(mfcc.AsSpan(start * coeffs, Frames * coeffs).ToArray());
                split.Y.Add(label);
                split.Lineage.Add(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["clipId"] = $"{file.Path}#{start}",
                    ["split"] = file.Split,
                    ["label"] = label,
                    ["labelName"] = label == 1 ? Keyword : "_background_",
                    ["speaker"] = file.Speaker,
                    ["sourceRecording"] = file.Path,
                    ["startMs"] = start * 10,
                    ["endMs"] = start * 10 + 1000,
                    ["labelSource"] = new Dictionary<string, object?> { ["kind"] = "generator", ["tool"] = "EdgeKws.Corpus", ["confidence"] = 1.0, ["reviewer"] = null, ["note"] = why },
                    ["augmentedFrom"] = null,
                }));
            }

            if (frames < Frames) continue;
            foreach (var e in events)
            {
                // Five windows per event, the word shifted by up to +-0.2 s (all in the event's split).
                int centre = (int)Math.Round((e.StartMs + e.EndMs) / 2 / 10.0);
                foreach (int shift in (int[])[-20, -10, 0, 10, 20])
                    Add(Math.Clamp(centre + shift - Frames / 2, 0, frames - Frames), 1, "keyword event");
            }
            if (file.Kind is FileKind.Keyword or FileKind.NearMiss && events.Count == 0)
            {
                Add((frames - Frames) / 2, 0, file.Kind);
            }
            else if (file.Kind == FileKind.Sentence || stream)
            {
                int hop = stream ? 100 : 50;
                int limit = stream ? 120 : int.MaxValue;
                for (int s = 0, n = 0; s + Frames <= frames && n < limit; s += hop, n++)
                {
                    double startMs = s * 10.0, endMs = startMs + 1000;
                    if (file.KeywordEvents.Any(ev => ev.EndMs > startMs && ev.StartMs < endMs)) continue;
                    Add(s, 0, stream ? "negative stream" : "keyword-free sentence");
                }
            }
        }

        Directory.CreateDirectory(outputDirectory);
        var splits = new Dictionary<string, object>();
        foreach (var (name, (x, y, lineage)) in rows)
        {
            if (y.Count == 0) continue;
            NpyFile.WriteFloat32(Path.Combine(outputDirectory, $"{name}.features.npy"), x.ToArray(), y.Count, Frames, coeffs);
            NpyFile.WriteInt64(Path.Combine(outputDirectory, $"{name}.labels.npy"), y.ToArray(), y.Count);
            File.WriteAllLines(Path.Combine(outputDirectory, $"{name}.lineage.jsonl"), lineage);
            splits[name] = new Dictionary<string, int> { ["count"] = y.Count };
        }
        var meta = new Dictionary<string, object?>
        {
            ["formatVersion"] = DatasetInfo.FormatVersionName,
            ["datasetId"] = "test-corpus-seed" + corpus.Options.Seed.ToString(CultureInfo.InvariantCulture),
            ["createdUtc"] = "2026-11-23T00:00:00Z",
            ["featureConfigHash"] = config.FeatureConfigHash,
            ["featureConfig"] = config.ToCanonicalString(),
            ["sampleRateHz"] = config.SampleRateHz,
            ["windowFrames"] = Frames,
            ["coefficients"] = coeffs,
            ["classes"] = new[] { "_background_", Keyword },
            ["splits"] = splits,
            ["splitRule"] = "speaker-independent: each voice in exactly one split",
            ["leakageCheck"] = new Dictionary<string, object> { ["passed"] = true, ["checked"] = new[] { "speaker" } },
            ["sources"] = new[] { new Dictionary<string, string> { ["kind"] = "corpus", ["path"] = "manifest.json", ["generatorVersion"] = corpus.GeneratorVersion } },
        };
        File.WriteAllText(Path.Combine(outputDirectory, "dataset.json"), JsonSerializer.Serialize(meta));
    }

    private static float[] Features(string wavPath, MfccConfig config, out int frames)
    {
        using var source = new AudioFileSource(wavPath, config.SampleRateHz);
        var samples = new List<float>();
        var block = new float[4096];
        int n;
        while ((n = source.Read(block)) > 0) samples.AddRange(block.AsSpan(0, n).ToArray());
        var extractor = new MfccExtractor(config);
        frames = extractor.FramesForNextPush(samples.Count);
        var mfcc = new float[Math.Max(frames, 0) * config.CoefficientCount];
        extractor.Push(samples.ToArray(), mfcc);
        return mfcc;
    }
}
