using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Import;
using EdgeKws.Shared.Features;

namespace EdgeKws.Labeling.Dataset;

/// <summary>A source the dataset was built from (written into dataset.json).</summary>
/// <param name="Kind">e.g. "corpus", "mswc", "speech-commands", "gateway".</param>
/// <param name="Path">Its manifest or root.</param>
/// <param name="GeneratorVersion">Generator or tool version, if one.</param>
public sealed record DatasetSource(string Kind, string Path, string? GeneratorVersion = null);

/// <summary>What an export wrote.</summary>
/// <param name="DatasetId">The stable id (hash of the inputs).</param>
/// <param name="CountsBySplit">Examples per split.</param>
/// <param name="CountsByClass">Examples per split and class name.</param>
public sealed record DatasetExportResult(string DatasetId, IReadOnlyDictionary<string, int> CountsBySplit, IReadOnlyDictionary<(string Split, string Label), int> CountsByClass);

/// <summary>How an export checks leakage and what it adds to dataset.json.</summary>
/// <param name="LeakageChecks">The leakage checks (default <see cref="LeakageCheck.Checked"/>: speaker-independent); a time split of the same
/// devices uses <see cref="LeakageCheck.ByRecording"/>.</param>
/// <param name="WriteManifestExtras">Writes extra properties into dataset.json's root object after <c>leakageCheck</c> (e.g. a time split's cut
/// times per device), or null.</param>
public sealed record DatasetExportOptions(IReadOnlyList<string>? LeakageChecks = null, Action<Utf8JsonWriter>? WriteManifestExtras = null);

/// <summary>
/// Writes a dataset in the <c>edgekws-dataset/1</c> format (docs/dataset-format.md): per split,
/// MFCC features <c>[N, 98, 13]</c> float32 computed by <see cref="MfccExtractor"/> with
/// <see cref="MfccConfig.Default"/> (the device's own code), int64 labels and a lineage line per example;
/// plus dataset.json. The leakage check runs first and refuses to write anything when it finds a leak.
/// </summary>
public sealed class DatasetExporter
{
    /// <summary>The format version written.</summary>
    public const string FormatVersion = "edgekws-dataset/1";

    /// <summary>Class 0, the negatives.</summary>
    public const string BackgroundClass = "_background_";

    private const int WindowSamples = KeywordClipExtractor.SampleRateHz;
    private readonly MfccConfig _config = MfccConfig.Default;
    private readonly TimeProvider _time;

    /// <summary>Creates an exporter; <paramref name="time"/> only stamps createdUtc.</summary>
    public DatasetExporter(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>Frames per 1 s window (98 with 25 ms windows and 10 ms hops, snip edges).</summary>
    public int WindowFrames => _config.FrameCount(WindowSamples);

    /// <summary>Exports <paramref name="examples"/> into <paramref name="outputDirectory"/>.</summary>
    /// <param name="examples">The examples.</param>
    /// <param name="keywordClasses">Keyword class names; the classes are [_background_, ..these].</param>
    /// <param name="outputDirectory">Created if needed; existing dataset files in it are replaced.</param>
    /// <param name="sources">Sources written into dataset.json.</param>
    /// <param name="splitRule">How splits were made, written into dataset.json.</param>
    /// <exception cref="DatasetLeakageException">A speaker, recording or twin is in two splits; nothing is written.</exception>
    /// <exception cref="ArgumentException">Unknown split or class, duplicate clip id.</exception>
    public DatasetExportResult Export(IReadOnlyList<DatasetExample> examples, IReadOnlyList<string> keywordClasses, string outputDirectory, IReadOnlyList<DatasetSource> sources, string splitRule) =>
        Export(examples, keywordClasses, outputDirectory, sources, splitRule, new DatasetExportOptions());

    /// <summary>Exports <paramref name="examples"/> with <paramref name="options"/> (leakage checks, extra manifest properties).</summary>
    /// <exception cref="DatasetLeakageException">An example shares a checked key with one in another split; nothing is written.</exception>
    /// <exception cref="ArgumentException">Unknown split or class, duplicate clip id, device features of the wrong shape.</exception>
    public DatasetExportResult Export(IReadOnlyList<DatasetExample> examples, IReadOnlyList<string> keywordClasses, string outputDirectory, IReadOnlyList<DatasetSource> sources,
        string splitRule, DatasetExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> checks = options.LeakageChecks ?? LeakageCheck.Checked;
        string[] classes = [BackgroundClass, .. keywordClasses];
        if (classes.Distinct(StringComparer.Ordinal).Count() != classes.Length)
        {
            throw new ArgumentException($"Class names must be distinct and not '{BackgroundClass}': {string.Join(", ", keywordClasses)}.");
        }

        var classIndex = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (DatasetExample e in examples)
        {
            if (!SplitNames.All.Contains(e.Split))
            {
                throw new ArgumentException($"Example '{e.ClipId}' has split '{e.Split}'; expected train, validation or test.");
            }

            if (!classIndex.ContainsKey(e.LabelName))
            {
                throw new ArgumentException($"Example '{e.ClipId}' has class '{e.LabelName}', which is not among {string.Join(", ", classes)}.");
            }

            if (!ids.Add(e.ClipId))
            {
                throw new ArgumentException($"Clip id '{e.ClipId}' appears twice.");
            }

            if (e.Features is { } f && f.Length != WindowFrames * _config.CoefficientCount)
            {
                throw new ArgumentException($"Example '{e.ClipId}' has {f.Length} feature values; a window is {WindowFrames} x {_config.CoefficientCount}.");
            }
        }

        IReadOnlyList<Leak> leaks = LeakageCheck.Find(examples, checks);
        if (leaks.Count > 0)
        {
            throw new DatasetLeakageException(leaks);
        }

        Directory.CreateDirectory(outputDirectory);
        var extractor = new MfccExtractor(_config);
        int frames = WindowFrames, coeffs = _config.CoefficientCount;
        float[] features = new float[frames * coeffs];
        float[] window = new float[WindowSamples];
        var audioCache = new AudioCache();
        var countsBySplit = new Dictionary<string, int>(StringComparer.Ordinal);
        var countsByClass = new Dictionary<(string, string), int>();
        using var idHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        idHash.AppendData(Encoding.UTF8.GetBytes(_config.FeatureConfigHash + "\n" + string.Join(',', classes) + "\n"));

        foreach (string split in SplitNames.All)
        {
            DatasetExample[] rows = [.. examples.Where(e => e.Split == split)];
            foreach (string f in new[] { ".features.npy", ".labels.npy", ".lineage.jsonl" })
            {
                File.Delete(Path.Combine(outputDirectory, split + f));
            }

            if (rows.Length == 0)
            {
                continue;
            }

            countsBySplit[split] = rows.Length;
            using (NpyWriter feat = NpyWriter.CreateFloat32(Path.Combine(outputDirectory, split + ".features.npy"), rows.Length, frames, coeffs))
            using (NpyWriter labels = NpyWriter.CreateInt64(Path.Combine(outputDirectory, split + ".labels.npy"), rows.Length))
            using (var lineage = new StreamWriter(Path.Combine(outputDirectory, split + ".lineage.jsonl"), false, new UTF8Encoding(false)))
            {
                foreach (DatasetExample e in rows)
                {
                    if (e.Features is { } deviceFeatures)
                    {
                        // The device's own MFCCs (checked to be in this config by the caller): the same code on the same samples.
                        feat.Write(deviceFeatures);
                    }
                    else
                    {
                        audioCache.Window(e.WavPath, e.StartMs, window);
                        extractor.Reset();
                        int got = extractor.Push(window, features);
                        if (got != frames)
                        {
                            throw new InvalidOperationException($"A 1 s window gave {got} frames, expected {frames}.");
                        }

                        feat.Write(features);
                    }
                    int label = classIndex[e.LabelName];
                    labels.Write(label);
                    string line = LineageLine(e, label);
                    lineage.Write(line);
                    lineage.Write('\n');
                    idHash.AppendData(Encoding.UTF8.GetBytes(line + "\n"));
                    countsByClass[(split, e.LabelName)] = countsByClass.GetValueOrDefault((split, e.LabelName)) + 1;
                }
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        // No date in the id: the same inputs give the same id on any day (createdUtc carries the time).
        string datasetId = "edgekws-" + Convert.ToHexStringLower(idHash.GetHashAndReset())[..16];
        WriteManifest(Path.Combine(outputDirectory, "dataset.json"), datasetId, now, classes, countsBySplit, sources, splitRule, checks, options.WriteManifestExtras);
        return new DatasetExportResult(datasetId, countsBySplit, countsByClass);
    }

    private static string LineageLine(DatasetExample e, int label)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("clipId", e.ClipId);
            w.WriteString("split", e.Split);
            w.WriteNumber("label", label);
            w.WriteString("labelName", e.LabelName);
            WriteNullable(w, "speaker", e.Speaker);
            w.WriteString("sourceRecording", e.SourceRecording);
            w.WriteNumber("startMs", Math.Round(e.StartMs, 4));
            w.WriteNumber("endMs", Math.Round(e.EndMs, 4));
            w.WriteStartObject("labelSource");
            w.WriteString("kind", e.Source.Kind);
            w.WriteString("tool", e.Source.Tool);
            if (e.Source.Confidence is double c)
            {
                w.WriteNumber("confidence", c);
            }
            else
            {
                w.WriteNull("confidence");
            }

            WriteNullable(w, "reviewer", e.Source.Reviewer);
            w.WriteEndObject();
            WriteNullable(w, "augmentedFrom", e.AugmentedFrom);
            if (e.Field is { } f)
            {
                w.WriteString("deviceId", f.DeviceId);
                w.WriteString("deviceClipId", f.DeviceClipId);
                w.WriteNumber("sequence", f.Sequence);
                w.WriteString("capturedUtc", f.CapturedUtc.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("kind", f.Kind);
                w.WriteString("modelVersion", f.ModelVersion);
                w.WriteNumber("deviceScore", Math.Round(f.DeviceScore, 6));
                w.WriteString("featureSource", f.FeatureSource);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private void WriteManifest(string path, string datasetId, DateTimeOffset now, string[] classes, Dictionary<string, int> counts, IReadOnlyList<DatasetSource> sources, string splitRule,
        IReadOnlyList<string> checks, Action<Utf8JsonWriter>? extras)
    {
        using FileStream s = File.Create(path);
        using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("formatVersion", FormatVersion);
        w.WriteString("datasetId", datasetId);
        w.WriteString("createdUtc", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("featureConfigHash", _config.FeatureConfigHash);
        w.WriteString("featureConfig", _config.ToCanonicalString());
        w.WriteNumber("sampleRateHz", _config.SampleRateHz);
        w.WriteNumber("windowFrames", WindowFrames);
        w.WriteNumber("coefficients", _config.CoefficientCount);
        w.WriteStartArray("classes");
        foreach (string c in classes)
        {
            w.WriteStringValue(c);
        }

        w.WriteEndArray();
        w.WriteStartObject("splits");
        foreach (string split in SplitNames.All.Where(counts.ContainsKey))
        {
            w.WriteStartObject(split);
            w.WriteNumber("count", counts[split]);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteString("splitRule", splitRule);
        w.WriteStartObject("leakageCheck");
        w.WriteBoolean("passed", true);
        w.WriteStartArray("checked");
        foreach (string c in checks)
        {
            w.WriteStringValue(c);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        extras?.Invoke(w);
        w.WriteStartArray("sources");
        foreach (DatasetSource src in sources)
        {
            w.WriteStartObject();
            w.WriteString("kind", src.Kind);
            w.WriteString("path", src.Path);
            WriteNullable(w, "generatorVersion", src.GeneratorVersion);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    // Keeps the last recording in memory: examples of one recording are exported together.
    private sealed class AudioCache
    {
        private string? _path;
        private float[] _audio = [];

        public void Window(string path, double startMs, float[] window)
        {
            if (_path != path)
            {
                _audio = KeywordExtractionPipeline.ReadMono16k(path);
                _path = path;
            }

            Array.Clear(window);
            long start = (long)Math.Round(startMs * KeywordClipExtractor.SampleRateHz / 1000);
            long from = Math.Max(0, start), to = Math.Min(_audio.Length, start + window.Length);
            if (to > from)
            {
                _audio.AsSpan((int)from, (int)(to - from)).CopyTo(window.AsSpan((int)(from - start)));
            }
        }
    }
}
