using System.Text.Json;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Labeling;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Storage;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Gateway.Tests.Labeling;

/// <summary>
/// Field datasets from the gateway store (<see cref="GatewayDatasetExport"/>) on both stores: triggers and near misses ingested through the
/// store's batch, labelled by the worker's and the reviewers' store paths, exported with the real MFCC front end and read back with the model
/// loop's dataset reader. Shows the time split by capture times, that clips waiting for review are absent, the lineage of each clip, that a
/// feature-only clip in the dataset's feature config gives exactly the features of its audio, and the device split still on request.
/// </summary>
[Collection("postgres")]
public sealed class FieldDataset_Tests(PostgresFixture postgres) : IDisposable
{
    private const string Keyword = "hey edge";
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private static readonly string Hash = MfccConfig.Default.FeatureConfigHash;
    private static readonly LabelProvenance Aligner = new(LabelProvenanceKinds.Aligner, "pocketsphinx test; trigger-verifier 2", 0.9, null);

    private readonly TempDirectory _dir = new();
    private readonly List<StoreWrite> _writes = [];
    private readonly Dictionary<string, long> _seq = new(StringComparer.Ordinal);

    public void Dispose() => _dir.Dispose();

    /// <summary>One device clip of the fixture: its report's sequence, clip id, capture time, kind and label (null: waiting).</summary>
    private sealed record Clip(string Device, long Seq, Guid Id, DateTimeOffset Captured, string Kind, DetectionLabelKind? Label, float Score);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Time_split_holds_out_each_devices_latest_clips_and_never_uses_clips_waiting_for_review(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        var decided = new List<Clip>();
        var waiting = new List<Clip>();
        short[] sharedAudio = Tone(440, 1);
        foreach (string device in new[] { "dev-a", "dev-b" })
        {
            for (int i = 0; i < 10; i++)
            {
                // dev-b's clip 8 overlaps clip 7 (one second later in time and stream): one recording, so the cut before 8 moves before 7.
                double offsetS = device == "dev-b" && i == 8 ? (7 * 60) + 1 : i * 60;
                string kind = i % 2 == 0 ? FieldClipKind.Trigger : FieldClipKind.NearMiss;
                DetectionLabelKind label = i % 4 < 2 ? DetectionLabelKind.TrueAccept : DetectionLabelKind.FalseAccept;
                // dev-a's near miss 3 uploaded only the device's MFCCs of the same audio as its near miss 1.
                bool featuresOnly = device == "dev-a" && i == 3;
                short[] audio = device == "dev-a" && i is 1 or 3 ? sharedAudio : Tone(300 + (40 * i), i + (device == "dev-b" ? 100 : 0));
                decided.Add(Add(store, device, kind, offsetS, label, audio, featuresOnly ? Hash : null, 0.5f + (i * 0.01f)));
            }
            // Waiting: a trigger in the review queue, a near miss left to review, a near miss not labelled yet; all later than any decided clip.
            waiting.Add(Add(store, device, FieldClipKind.Trigger, 11 * 60, DetectionLabelKind.Unknown, Tone(900, 7), null, 0.9f));
            waiting.Add(Add(store, device, FieldClipKind.NearMiss, 12 * 60, DetectionLabelKind.Unknown, Tone(950, 8), null, 0.5f));
            waiting.Add(Add(store, device, FieldClipKind.NearMiss, 13 * 60, null, Tone(990, 9), null, 0.5f));
        }
        // A feature-only near miss in another front end's config cannot be in this dataset.
        Clip foreign = Add(store, "dev-a", FieldClipKind.NearMiss, (4 * 60) + 30, DetectionLabelKind.FalseAccept, Tone(500, 5), Wire.ConfigHash, 0.45f);
        Flush(store);
        Assert.Equal(4, store.CountReviewQueue() + store.ReadNearMisses(null, 100).Count(n => n.Label == DetectionLabelKind.Unknown));

        string outDir = Path.Combine(_dir.Path, "field-1");
        GatewayExportResult r = GatewayDatasetExport.Export(store, outDir, Keyword, TimeProvider.System);

        Assert.Equal((20, 10, 10, 1, 1, FieldSplits.Time), (r.Examples, r.Triggers, r.NearMisses, r.FromDeviceFeatures, r.SkippedFeatureConfig, r.Split));
        Assert.Equal((12, 8), (r.KeywordExamples, r.BackgroundExamples)); // per device: true accepts at i % 4 < 2 (0, 1, 4, 5, 8, 9)
        Assert.Equal(20, r.MembersAdded);
        Dictionary<string, JsonElement> lineage = ReadLineage(outDir);
        Assert.Equal(20, lineage.Count);
        // Nothing waiting for review and nothing in another feature config is in any split.
        Assert.All(waiting.Append(foreign), c => Assert.False(lineage.ContainsKey($"{c.Device}/{c.Id:D}"), $"{c.Kind} {c.Seq} of {c.Device} was exported"));

        // Per device by capture time: train < validation < test, the latest clips in test, none of them in train.
        foreach (string device in new[] { "dev-a", "dev-b" })
        {
            List<(DateTimeOffset T, string Split, string Id)> rows = [.. lineage.Values.Where(l => l.GetProperty("deviceId").GetString() == device)
                .Select(l => (DateTimeOffset.Parse(l.GetProperty("capturedUtc").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
                    l.GetProperty("split").GetString()!, l.GetProperty("clipId").GetString()!))];
            DateTimeOffset[] train = [.. rows.Where(x => x.Split == "train").Select(x => x.T)];
            DateTimeOffset[] validation = [.. rows.Where(x => x.Split == "validation").Select(x => x.T)];
            DateTimeOffset[] test = [.. rows.Where(x => x.Split == "test").Select(x => x.T)];
            Assert.True(train.Max() < validation.Min() && validation.Max() < test.Min(), $"{device}: train to {train.Max()}, validation {validation.Min()}..{validation.Max()}, test from {test.Min()}");
            int expectedTest = device == "dev-a" ? 2 : 3; // ceil(10 x 0.2); dev-b's cut moved before the recording of clips 7 and 8
            Assert.Equal(expectedTest, test.Length);
            Assert.Single(validation); // floor(10 x 0.1)
            string[] latest = [.. decided.Where(c => c.Device == device).OrderByDescending(c => c.Captured).Take(expectedTest).Select(c => $"{device}/{c.Id:D}")];
            Assert.Equal(latest.Order(StringComparer.Ordinal), rows.Where(x => x.Split == "test").Select(x => x.Id).Order(StringComparer.Ordinal));
            DeviceTimeCut cut = r.Devices!.Single(d => d.DeviceId == device);
            Assert.Equal((10 - expectedTest - 1, 1, expectedTest, test.Min(), validation.Min(), train.Max()),
                (cut.Train, cut.Validation, cut.Test, cut.TestFromUtc!.Value, cut.ValidationFromUtc!.Value, cut.LastTrainUtc!.Value));
        }
        Clip b7 = decided.Single(c => c.Device == "dev-b" && c.Captured == T0.AddSeconds(7 * 60));
        Clip b8 = decided.Single(c => c.Device == "dev-b" && c.Captured == T0.AddSeconds((7 * 60) + 1));
        Assert.Equal(lineage[$"dev-b/{b7.Id:D}"].GetProperty("sourceRecording").GetString(), lineage[$"dev-b/{b8.Id:D}"].GetProperty("sourceRecording").GetString());

        // dataset.json: the rule, the by-recording leakage check and the cuts per device; the model loop's reader takes it.
        using (JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "dataset.json"))))
        {
            JsonElement m = manifest.RootElement;
            Assert.StartsWith("time per device", m.GetProperty("splitRule").GetString(), StringComparison.Ordinal);
            Assert.Equal(["clip", "sourceRecording", "augmentedFrom"], m.GetProperty("leakageCheck").GetProperty("checked").EnumerateArray().Select(x => x.GetString()));
            JsonElement ts = m.GetProperty("timeSplit");
            Assert.Equal((0.2, 0.1), (ts.GetProperty("holdoutFraction").GetDouble(), ts.GetProperty("validationFraction").GetDouble()));
            JsonElement b = ts.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("deviceId").GetString() == "dev-b");
            Assert.Equal(("2026-11-20T08:07:00.000Z", 3), (b.GetProperty("testFromUtc").GetString(), b.GetProperty("test").GetInt32()));
        }
        DatasetInfo info = DatasetInfo.Load(outDir);
        Assert.Equal((13, 2, 5), (info.Splits!["train"].Count, info.Splits["validation"].Count, info.Splits["test"].Count));
        Assert.Equal(["_background_", Keyword], info.Classes!);

        // Lineage of a near miss the device missed (a keyword) and of a false accept (a hard negative).
        Clip missed = decided.Single(c => c.Device == "dev-a" && c.Captured == T0.AddSeconds(60));
        JsonElement l1 = lineage[$"dev-a/{missed.Id:D}"];
        Assert.Equal(("nearMiss", Keyword, 1, "dev-a", "2026-11-20T08:01:00.000Z", "kws-2.0.0", 0.51, "audio"),
            (l1.GetProperty("kind").GetString(), l1.GetProperty("labelName").GetString(), l1.GetProperty("label").GetInt32(), l1.GetProperty("deviceId").GetString(),
                l1.GetProperty("capturedUtc").GetString(), l1.GetProperty("modelVersion").GetString(), Math.Round(l1.GetProperty("deviceScore").GetDouble(), 4),
                l1.GetProperty("featureSource").GetString()));
        Assert.Equal(("aligner", Aligner.Tool, 0.9), (l1.GetProperty("labelSource").GetProperty("kind").GetString(), l1.GetProperty("labelSource").GetProperty("tool").GetString(),
            l1.GetProperty("labelSource").GetProperty("confidence").GetDouble()));
        // A near miss's 2 s clip is windowed like a trigger's: the middle 98 frames, 500 ms in.
        Assert.Equal((500.0, 1500.0), (l1.GetProperty("startMs").GetDouble(), l1.GetProperty("endMs").GetDouble()));
        Assert.Equal(missed.Seq, l1.GetProperty("sequence").GetInt64());
        Clip hardNegative = decided.Single(c => c.Device == "dev-a" && c.Captured == T0.AddSeconds(2 * 60));
        JsonElement l2 = lineage[$"dev-a/{hardNegative.Id:D}"];
        Assert.Equal(("trigger", "_background_", 0), (l2.GetProperty("kind").GetString(), l2.GetProperty("labelName").GetString(), l2.GetProperty("label").GetInt32()));

        // The feature-only near miss carries the device's MFCCs, which equal what the exporter computes from the same audio.
        Clip featureClip = decided.Single(c => c.Device == "dev-a" && c.Captured == T0.AddSeconds(3 * 60));
        Assert.Equal("device", lineage[$"dev-a/{featureClip.Id:D}"].GetProperty("featureSource").GetString());
        float[] fromDevice = Row(outDir, lineage[$"dev-a/{featureClip.Id:D}"]);
        float[] fromAudio = Row(outDir, l1);
        Assert.Equal(fromAudio, fromDevice);
        Assert.Contains(fromAudio, v => v != 0f);

        // The device split stays available: each device in one split, the speaker-independent leakage check.
        GatewayExportResult byDevice = GatewayDatasetExport.Export(store, Path.Combine(_dir.Path, "field-device"), Keyword, TimeProvider.System,
            new FieldDatasetOptions { Split = FieldSplits.Device });
        Assert.Equal((GatewayDatasetExport.SplitRule, 20), (byDevice.SplitRule, byDevice.Examples));
        Dictionary<string, JsonElement> lineage2 = ReadLineage(Path.Combine(_dir.Path, "field-device"));
        Assert.All(lineage2.Values, l => Assert.Equal(GatewayDatasetExport.SplitOf(l.GetProperty("deviceId").GetString()!), l.GetProperty("split").GetString()));
        using (JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.Path, "field-device", "dataset.json"))))
        {
            Assert.Equal(["speaker", "sourceRecording", "augmentedFrom"], manifest.RootElement.GetProperty("leakageCheck").GetProperty("checked").EnumerateArray().Select(x => x.GetString()));
            Assert.False(manifest.RootElement.TryGetProperty("timeSplit", out _));
        }

        // An absolute cut: every clip captured at or after it is test, the clip just before validation.
        GatewayExportResult byCut = GatewayDatasetExport.Export(store, Path.Combine(_dir.Path, "field-cut"), Keyword, TimeProvider.System,
            new FieldDatasetOptions { TestFromUtc = T0.AddMinutes(5) });
        Assert.All(ReadLineage(Path.Combine(_dir.Path, "field-cut")).Values, l =>
        {
            DateTimeOffset t = DateTimeOffset.Parse(l.GetProperty("capturedUtc").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(t >= T0.AddMinutes(5) ? "test" : t >= T0.AddMinutes(4) ? "validation" : "train", l.GetProperty("split").GetString());
        });
        Assert.Equal((5, 1, 4), (byCut.Devices![0].Test, byCut.Devices[0].Validation, byCut.Devices[0].Train));
        Assert.Throws<ArgumentException>(() => GatewayDatasetExport.Export(store, Path.Combine(_dir.Path, "bad"), Keyword, TimeProvider.System,
            new FieldDatasetOptions { HoldoutFraction = 0.7, ValidationFraction = 0.3 }));
    }

    // A report (detection or near miss) and its clip, with the label written through the store's own labeling paths.
    private Clip Add(IGatewayStore store, string device, string kind, double offsetS, DetectionLabelKind? label, short[] audio, string? featureHash, float score)
    {
        long seq = _seq.GetValueOrDefault(device) + 1;
        _seq[device] = seq + 1;
        var id = Guid.NewGuid();
        DateTimeOffset captured = T0.AddSeconds(offsetS);
        long offsetMs = (long)(offsetS * 1000);
        byte[] report = kind == FieldClipKind.Trigger
            ? WireJson.Serialize(new DetectionReport
            {
                DeviceId = device,
                DeviceTimeUtc = captured,
                StreamOffsetMs = offsetMs,
                Score = score,
                Keyword = Keyword,
                ModelVersion = "kws-2.0.0",
                FeatureConfigHash = Hash,
                ClipId = id,
            })
            : WireJson.Serialize(new NearMissReport
            {
                DeviceId = device,
                DeviceTimeUtc = captured,
                StreamOffsetMs = offsetMs,
                Score = score,
                Threshold = 0.8f,
                BandFloor = 0.4f,
                ModelVersion = "kws-2.0.0",
                FeatureConfigHash = Hash,
                ClipId = id,
            });
        byte[] clip;
        if (featureHash is null)
        {
            clip = new byte[ClipAudio.GetFrameSizeBytes(audio.Length)];
            ClipAudio.Write(clip, id, captured, 16_000, Convert.FromHexString(Hash), consentGranted: true, audio);
        }
        else
        {
            // The device's own front end over the whole clip, as the listening pipeline sends features without consent.
            var extractor = new MfccExtractor(MfccConfig.Default);
            var features = new float[(MfccConfig.Default.FrameCount(audio.Length) + 1) * 13];
            int frames = extractor.Push(audio, features);
            clip = new byte[ClipFeatures.GetFrameSizeBytes(frames, 13)];
            ClipFeatures.Write(clip, id, captured, 16_000, Convert.FromHexString(featureHash), 13, features.AsSpan(0, frames * 13));
        }
        _writes.Add(GatewayStoreNearMiss_Tests.Valid(device, kind == FieldClipKind.Trigger ? MessageKind.Detection : MessageKind.NearMiss, report, seq, captured.AddSeconds(5), Hash));
        _writes.Add(GatewayStoreNearMiss_Tests.Valid(device, featureHash is null ? MessageKind.ClipAudio : MessageKind.ClipFeatures, clip, seq + 1, captured.AddSeconds(5), featureHash ?? Hash));
        var c = new Clip(device, seq, id, captured, kind, label, score);
        _pendingLabels.Add(c);
        return c;
    }

    private readonly List<Clip> _pendingLabels = [];

    private void Flush(IGatewayStore store)
    {
        var results = new IngestResult[_writes.Count];
        store.WriteBatch([.. _writes], results);
        Assert.All(results, x => Assert.True(x.Outcome == IngestOutcome.Stored, x.Reason));
        DateTimeOffset now = T0.AddHours(1);
        foreach (Clip c in _pendingLabels.Where(c => c.Label is not null))
        {
            DetectionLabelKind l = c.Label!.Value;
            string? reason = l == DetectionLabelKind.Unknown ? "confidence between the bounds" : null;
            Assert.Null(c.Kind == FieldClipKind.Trigger
                ? store.WriteAutomaticLabel(new DetectionLabel(c.Device, c.Seq, l, "aligner:" + Aligner.Tool, now), Aligner, reason, DetectionLabelKind.Unknown, c.Id.ToString("D"))
                : store.WriteNearMissLabel(c.Device, c.Seq, l, Aligner, reason, DetectionLabelKind.Unknown, now));
        }
    }

    private static short[] Tone(double hz, int seed)
    {
        var rng = new Random(seed);
        var pcm = new short[32_000]; // the device's default clip: 1.5 s before the trigger's window end, 0.5 s after
        for (int i = 0; i < pcm.Length; i++)
        {
            double envelope = i is > 8_000 and < 24_000 ? 1.0 : 0.1;
            pcm[i] = (short)((Math.Sin(2 * Math.PI * hz * i / 16_000) * 6000 * envelope) + (rng.NextDouble() - 0.5) * 400);
        }
        return pcm;
    }

    private static Dictionary<string, JsonElement> ReadLineage(string dir) =>
        SplitNamesIn(dir).SelectMany(s => File.ReadAllLines(Path.Combine(dir, s + ".lineage.jsonl")))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToDictionary(l => l.GetProperty("clipId").GetString()!, StringComparer.Ordinal);

    private static IEnumerable<string> SplitNamesIn(string dir) => new[] { "train", "validation", "test" }.Where(s => File.Exists(Path.Combine(dir, s + ".lineage.jsonl")));

    // The feature row of a lineage line: its index in its split's lineage file is its row in the split's features.
    private static float[] Row(string dir, JsonElement line)
    {
        string split = line.GetProperty("split").GetString()!;
        string id = line.GetProperty("clipId").GetString()!;
        int index = Array.FindIndex(File.ReadAllLines(Path.Combine(dir, split + ".lineage.jsonl")),
            l => JsonDocument.Parse(l).RootElement.GetProperty("clipId").GetString() == id);
        (float[] values, int[] shape) = NpyFile.ReadFloat32(Path.Combine(dir, split + ".features.npy"));
        int size = shape[1] * shape[2];
        return values.AsSpan(index * size, size).ToArray();
    }
}
