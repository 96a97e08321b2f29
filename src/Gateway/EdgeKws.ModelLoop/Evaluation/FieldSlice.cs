using System.Globalization;
using System.Text.Json;
using EdgeKws.Shared.Audio;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>One held-out field clip: a device clip the gateway labelled, never trained on.</summary>
/// <param name="Recording">The clip's identity across splits and datasets (lineage <c>clipId</c>, <c>device/clip</c>).</param>
/// <param name="WavPath">The clip's audio (<c>clips/{clipId}.wav</c> in the dataset directory, as the gateway's export writes it).</param>
/// <param name="IsKeyword">Labelled as the keyword (a true accept or a near miss that was the keyword).</param>
/// <param name="KeywordStartMs">Start of the labelled keyword window in the clip (keyword clips).</param>
/// <param name="KeywordEndMs">End of that window.</param>
/// <param name="DeviceId">Device that recorded it, when the lineage says.</param>
public sealed record HeldOutClip(string Recording, string WavPath, bool IsKeyword, double KeywordStartMs, double KeywordEndMs, string? DeviceId);

/// <summary>
/// The held-out field slice of a field dataset (<c>edgekws-dataset/1</c> exported by the gateway): the clips of its <c>test</c>
/// split, which the gateway's time split fills with each device's latest clips and which no fine-tune trains on. The clip WAVs
/// are read from <c>clips/</c> beside the features, as the gateway's export writes them; a clip a device uploaded as features only
/// (no consent for audio) has no WAV to replay and is counted in <see cref="FeatureOnlyClips"/>, not evaluated.
/// </summary>
public sealed class FieldSlice
{
    /// <summary>The split that holds the slice.</summary>
    public const string SplitName = "test";

    private FieldSlice(string datasetId, string keyword, IReadOnlyList<HeldOutClip> clips, int featureOnlyClips)
    {
        DatasetId = datasetId;
        Keyword = keyword;
        Clips = clips;
        FeatureOnlyClips = featureOnlyClips;
    }

    /// <summary>Held-out clips without audio (uploaded as MFCCs): the device detector cannot be replayed on them.</summary>
    public int FeatureOnlyClips { get; }

    /// <summary>The field dataset's id.</summary>
    public string DatasetId { get; }

    /// <summary>The keyword class.</summary>
    public string Keyword { get; }

    /// <summary>Held-out clips in lineage order (one per recording).</summary>
    public IReadOnlyList<HeldOutClip> Clips { get; }

    /// <summary>Reads the slice; refuses a dataset without a test split or without any held-out clip with audio.</summary>
    public static FieldSlice Load(string datasetDirectory)
    {
        var info = Datasets.DatasetInfo.Load(datasetDirectory);
        if (info.Classes!.Length != 2)
            throw new InvalidDataException($"field dataset {info.DatasetId}: the slice evaluation knows one keyword, the dataset has classes [{string.Join(", ", info.Classes)}]");
        if (!info.Splits!.TryGetValue(SplitName, out var split) || split.Count == 0)
            throw new InvalidDataException($"field dataset {info.DatasetId} has no '{SplitName}' split: there is no held-out slice to gate on");
        var byClip = new Dictionary<string, HeldOutClip>(StringComparer.Ordinal);
        var order = new List<string>();
        var featureOnly = new HashSet<string>(StringComparer.Ordinal);
        foreach (LineageRow row in LineageRow.Read(datasetDirectory, SplitName))
        {
            string wav = Path.Combine(datasetDirectory, "clips", row.ClipId + ".wav");
            bool keyword = row.Label > 0;
            if (byClip.TryGetValue(row.ClipId, out HeldOutClip? seen))
            {
                // Several windows of one clip: the clip is a keyword clip when any window is the keyword.
                if (keyword && !seen.IsKeyword) byClip[row.ClipId] = seen with { IsKeyword = true, KeywordStartMs = row.StartMs, KeywordEndMs = row.EndMs };
                continue;
            }
            if (row.ClipId.Split('/').Any(p => p is "" or "." or ".."))
                throw new InvalidDataException($"field dataset {info.DatasetId}: held-out clip id '{row.ClipId}' is not a device/clip name");
            if (!File.Exists(wav))
            {
                featureOnly.Add(row.ClipId);
                continue;
            }
            byClip[row.ClipId] = new HeldOutClip(row.ClipId, wav, keyword, row.StartMs, row.EndMs, row.DeviceId);
            order.Add(row.ClipId);
        }
        if (order.Count == 0)
            throw new InvalidDataException($"field dataset {info.DatasetId}: none of its {featureOnly.Count} held-out clips has audio under clips/ (feature-only uploads cannot be replayed through the detector)");
        return new FieldSlice(info.DatasetId!, info.Classes[1], [.. order.Select(r => byClip[r])], featureOnly.Count);
    }

    /// <summary>
    /// The clips as evaluation streams: a keyword clip is a positive stream with one keyword at its labelled window, a background
    /// clip a negative stream. The streaming evaluator then runs the device's front end and detector over each clip's audio.
    /// </summary>
    public IReadOnlyList<EvaluationStream> ToStreams()
    {
        var streams = new List<EvaluationStream>(Clips.Count);
        foreach (HeldOutClip c in Clips)
        {
            double durationMs;
            using (var reader = new WavReader(c.WavPath))
            {
                durationMs = reader.Format.FrameCount * 1000.0 / reader.Format.SampleRateHz;
            }
            streams.Add(c.IsKeyword
                ? new EvaluationStream(c.Recording, c.WavPath, EvaluationStreamKind.Positive, durationMs,
                    [new StreamPhrase(Keyword, Math.Max(0, c.KeywordStartMs), Math.Min(durationMs, c.KeywordEndMs))])
                : new EvaluationStream(c.Recording, c.WavPath, EvaluationStreamKind.Negative, durationMs, []));
        }
        return streams;
    }
}

/// <summary>The lineage fields the fine-tuning checks read (docs/dataset-format.md), one per example.</summary>
/// <param name="Recording">lineage <c>sourceRecording</c> (the clip), falling back to <c>clipId</c>.</param>
/// <param name="ClipId">lineage <c>clipId</c>.</param>
/// <param name="Label">Class index.</param>
/// <param name="StartMs">Window start in the recording.</param>
/// <param name="EndMs">Window end.</param>
/// <param name="DeviceId">lineage <c>deviceId</c> when present.</param>
public sealed record LineageRow(string Recording, string ClipId, long Label, double StartMs, double EndMs, string? DeviceId)
{
    /// <summary>Every line of <c>{split}.lineage.jsonl</c> (none when the split is absent).</summary>
    public static IEnumerable<LineageRow> Read(string datasetDirectory, string split)
    {
        string path = Path.Combine(datasetDirectory, split + ".lineage.jsonl");
        if (!File.Exists(path)) yield break;
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (text.Length == 0) continue;
            using JsonDocument doc = JsonDocument.Parse(text);
            JsonElement e = doc.RootElement;
            string? Str(string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            double Num(string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
            string clipId = Str("clipId") ?? throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{path}:{line}: 'clipId' is missing"));
            yield return new LineageRow(Str("sourceRecording") ?? clipId, clipId, (long)Num("label"), Num("startMs"), Num("endMs"), Str("deviceId"));
        }
    }
}
