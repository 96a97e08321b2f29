using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeKws.Gateway.Storage;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Import;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Gateway.Labeling;

/// <summary>Values of <see cref="FieldDatasetOptions.Split"/>.</summary>
public static class FieldSplits
{
    /// <summary>Per device by capture time: the latest slice is test, the slice before it validation, the rest train (the default).</summary>
    public const string Time = "time";

    /// <summary>Per device by SHA-256 of its id (80/10/10): each device in one split (speaker-independent; the export before time splits).</summary>
    public const string Device = "device";
}

/// <summary>How a field dataset is split (see docs/gateway.md "Field datasets").</summary>
public sealed record FieldDatasetOptions
{
    /// <summary>Default <see cref="HoldoutFraction"/>.</summary>
    public const double DefaultHoldoutFraction = 0.2;

    /// <summary>Default <see cref="ValidationFraction"/>.</summary>
    public const double DefaultValidationFraction = 0.1;

    /// <summary><see cref="FieldSplits.Time"/> (default) or <see cref="FieldSplits.Device"/>.</summary>
    public string Split { get; init; } = FieldSplits.Time;

    /// <summary>Time split: the share of each device's clips, its latest, held out as test (ceil(n x fraction), at least one clip). In [0, 1).</summary>
    public double HoldoutFraction { get; init; } = DefaultHoldoutFraction;

    /// <summary>Time split: the share of each device's clips, just before its test slice, in validation (floor(n x fraction)). In [0, 1).</summary>
    public double ValidationFraction { get; init; } = DefaultValidationFraction;

    /// <summary>Time split: an absolute cut instead of <see cref="HoldoutFraction"/>: every clip captured at or after it is test.</summary>
    public DateTimeOffset? TestFromUtc { get; init; }

    /// <summary>Why these options are refused, or null.</summary>
    public string? Refuse() =>
        Split is not (FieldSplits.Time or FieldSplits.Device) ? $"split must be \"{FieldSplits.Time}\" or \"{FieldSplits.Device}\", not \"{Split}\""
        : !(HoldoutFraction >= 0 && HoldoutFraction < 1) ? $"holdoutFraction must be in [0, 1), got {HoldoutFraction.ToString(CultureInfo.InvariantCulture)}"
        : !(ValidationFraction >= 0 && ValidationFraction < 1) ? $"validationFraction must be in [0, 1), got {ValidationFraction.ToString(CultureInfo.InvariantCulture)}"
        : HoldoutFraction + ValidationFraction >= 1 ? "holdoutFraction + validationFraction must be below 1 (something must be left to train on)"
        : Split == FieldSplits.Device && (TestFromUtc is not null || HoldoutFraction != DefaultHoldoutFraction || ValidationFraction != DefaultValidationFraction)
            ? "holdoutFraction, validationFraction and testFromUtc apply to the time split only"
        : null;
}

/// <summary>Where a time split cut one device's clips (written into dataset.json <c>timeSplit.devices</c>).</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="Train">Its clips in train.</param>
/// <param name="Validation">Its clips in validation.</param>
/// <param name="Test">Its clips in test (the held-out slice).</param>
/// <param name="ValidationFromUtc">Capture time of its first validation clip (every train clip is captured before it), or null without validation.</param>
/// <param name="TestFromUtc">Capture time of its first test clip (every train and validation clip is captured before it), or null without test.</param>
/// <param name="LastTrainUtc">Capture time of its last train clip, or null.</param>
public sealed record DeviceTimeCut(string DeviceId, int Train, int Validation, int Test, DateTimeOffset? ValidationFromUtc, DateTimeOffset? TestFromUtc,
    DateTimeOffset? LastTrainUtc);

/// <summary>What a gateway dataset export wrote.</summary>
/// <param name="DatasetId">The dataset id (as in dataset.json).</param>
/// <param name="Directory">Where it was written.</param>
/// <param name="Examples">Examples exported.</param>
/// <param name="CountsBySplit">Examples per split.</param>
/// <param name="MembersAdded">Dataset membership rows recorded in the store (0 for a repeated export of the same data).</param>
/// <param name="SkippedUnreadable">Clips whose frame could not be read (left out).</param>
/// <param name="Split">The split used (<see cref="FieldSplits"/>).</param>
/// <param name="SplitRule">The rule written into dataset.json.</param>
/// <param name="Triggers">Examples from detections' clips.</param>
/// <param name="NearMisses">Examples from near misses' clips.</param>
/// <param name="KeywordExamples">Examples of the keyword class (true accepts and near misses where the phrase was there).</param>
/// <param name="BackgroundExamples">Examples of <c>_background_</c> (false accepts and near misses without the phrase).</param>
/// <param name="FromDeviceFeatures">Examples whose features are the device's uploaded MFCCs (no raw audio).</param>
/// <param name="SkippedFeatureConfig">Feature-only clips left out: another feature config than the dataset's, or shorter than one window.</param>
/// <param name="Devices">The time split's cut per device (empty for the device split).</param>
public sealed record GatewayExportResult(string DatasetId, string Directory, int Examples, IReadOnlyDictionary<string, int> CountsBySplit, long MembersAdded, int SkippedUnreadable,
    string Split = FieldSplits.Time, string SplitRule = "", int Triggers = 0, int NearMisses = 0, int KeywordExamples = 0, int BackgroundExamples = 0, int FromDeviceFeatures = 0,
    int SkippedFeatureConfig = 0, IReadOnlyList<DeviceTimeCut>? Devices = null);

/// <summary>
/// Exports the gateway's labelled device clips, triggers and near misses, as a field dataset (docs/dataset-format.md) through the labeling
/// library's <see cref="DatasetExporter"/>, and records which device clips went into it (<see cref="IGatewayStore.AddDatasetMembers"/>), so
/// erasing a device later marks models trained on it.
/// </summary>
/// <remarks>
/// <para><b>What goes in.</b> Only clips whose label is decided (<see cref="IGatewayStore.ReadFieldClips"/> reads TrueAccept and FalseAccept
/// only, so a clip waiting for review, Unknown, or not labelled yet is never used). A trigger TrueAccept and a near miss whose phrase was there
/// (TrueAccept: a keyword the device missed) are the keyword class; a trigger FalseAccept (a hard negative) and a near miss without the phrase
/// are <c>_background_</c>.</para>
/// <para><b>Window.</b> The device cuts trigger and near-miss clips alike, [end - PreTriggerMs, end + PostTriggerMs) around the detection's or
/// peak's window end, so both are windowed alike: the 98 frames in the middle of the clip's frames (start frame floor((F - 98) / 2), e.g. 500 ms
/// into a 2 s clip). With raw audio the exporter computes the MFCCs of that window; a feature-only clip (no consent) gives the same frames of the
/// device's own MFCCs when their config hash is the dataset's (the MFCC has no state across frames, so these are the values the exporter would
/// compute from the audio); other feature-only clips are left out and counted.</para>
/// <para><b>Time split</b> (default): per device, clips ordered by capture time (the device's clock at the decision) then sequence; overlapping
/// clips (stream offsets closer than a clip length and capture times closer than a clip length + 2 s) form one source recording, and equal capture times stay together;
/// the latest slice is test, the slice before it validation, the rest train, and a cut never splits a recording or a capture time. The leakage
/// check is then by clip, source recording and augmented twin (every device is in every split by design).</para>
/// </remarks>
public static class GatewayDatasetExport
{
    /// <summary>The split rule of the device split, written into dataset.json.</summary>
    public const string SplitRule = "per device: first byte of SHA-256(device id) mod 10: 0-7 train, 8 validation, 9 test";

    /// <summary>An example whose features are the device's uploaded MFCCs (lineage <c>featureSource</c>).</summary>
    public const string DeviceFeatures = "device";

    /// <summary>An example whose features the exporter computed from the uploaded audio (lineage <c>featureSource</c>).</summary>
    public const string AudioFeatures = "audio";

    // A near miss is decided when the score falls back below the band, some time after its peak: capture times of one stretch of audio
    // can differ by up to this much more than the clip length.
    private static readonly TimeSpan DecisionSlack = TimeSpan.FromSeconds(2);

    private const int PageSize = 256;

    /// <summary>Writes a field dataset with the default options (time split, 20 % held out, 10 % validation).</summary>
    /// <exception cref="InvalidOperationException">No decided clip with usable audio or features is stored.</exception>
    public static GatewayExportResult Export(IGatewayStore store, string outputDirectory, string keyword, TimeProvider time) =>
        Export(store, outputDirectory, keyword, time, new FieldDatasetOptions());

    /// <summary>Writes the dataset into <paramref name="outputDirectory"/> (audio clips as WAV under <c>clips/</c>) and records membership.</summary>
    /// <exception cref="InvalidOperationException">No decided clip with usable audio or features is stored.</exception>
    /// <exception cref="ArgumentException">The options are refused (<see cref="FieldDatasetOptions.Refuse"/>).</exception>
    public static GatewayExportResult Export(IGatewayStore store, string outputDirectory, string keyword, TimeProvider time, FieldDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(keyword);
        if (options.Refuse() is { } refused)
        {
            throw new ArgumentException(refused, nameof(options));
        }
        MfccConfig config = MfccConfig.Default;
        int windowFrames = config.FrameCount(config.SampleRateHz); // a 1 s window
        string clipsDir = Path.Combine(outputDirectory, "clips");
        var candidates = new List<Candidate>();
        int unreadable = 0, foreignFeatures = 0;
        string afterDevice = string.Empty;
        long afterSeq = long.MinValue;
        while (true)
        {
            IReadOnlyList<FieldClip> page = store.ReadFieldClips(afterDevice, afterSeq, PageSize);
            foreach (FieldClip c in page)
            {
                switch (TryWindow(c, config, windowFrames, clipsDir, out Candidate? candidate))
                {
                    case WindowResult.Ok:
                        candidates.Add(candidate!);
                        break;
                    case WindowResult.Unreadable:
                        unreadable++;
                        break;
                    default:
                        foreignFeatures++;
                        break;
                }
            }
            if (page.Count < PageSize)
            {
                break;
            }
            (afterDevice, afterSeq) = (page[^1].DeviceId, page[^1].Sequence);
        }
        if (candidates.Count == 0)
        {
            throw new InvalidOperationException("no decided clip (TrueAccept/FalseAccept trigger or near miss) with raw audio or features in the dataset's feature config is stored: "
                + "label clips (worker or review) before exporting" + (unreadable + foreignFeatures > 0 ? $" ({unreadable} unreadable, {foreignFeatures} in another feature config)" : ""));
        }

        bool timeSplit = options.Split == FieldSplits.Time;
        var cuts = new List<DeviceTimeCut>();
        foreach (IGrouping<string, Candidate> device in candidates.GroupBy(c => c.Clip.DeviceId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Candidate[] ordered = [.. device.OrderBy(c => c.Clip.DeviceTimeUtc).ThenBy(c => c.Clip.Sequence)];
            int[] group = Recordings(ordered);
            for (int i = 0; i < ordered.Length; i++)
            {
                ordered[i].Recording = $"{device.Key}/{ordered[group[i]].Clip.ClipId}";
            }
            if (timeSplit)
            {
                cuts.Add(TimeSplit(device.Key, ordered, group, options));
            }
            else
            {
                string s = SplitOf(device.Key);
                foreach (Candidate c in ordered)
                {
                    c.Split = s;
                }
            }
        }

        var examples = new List<DatasetExample>(candidates.Count);
        var members = new List<DatasetMember>(candidates.Count);
        foreach (Candidate c in candidates)
        {
            FieldClip f = c.Clip;
            LabelProvenance? p = f.Provenance;
            var source = new LabelSource(p?.Kind == LabelProvenanceKinds.Review ? LabelKinds.Review : p is null ? LabelKinds.Import : LabelKinds.Aligner,
                p?.Tool ?? f.LabelSource, p?.Confidence, p?.Reviewer);
            var lineage = new FieldLineage(f.DeviceId, f.DeviceTimeUtc, f.Kind == FieldClipKind.NearMiss ? FieldClipKinds.NearMiss : FieldClipKinds.Trigger,
                f.ModelVersion, f.DeviceScore, c.Features is null ? AudioFeatures : DeviceFeatures, f.Sequence, f.ClipId);
            examples.Add(new DatasetExample($"{f.DeviceId}/{f.ClipId}", c.Split, f.Label == DetectionLabelKind.TrueAccept ? keyword : DatasetExporter.BackgroundClass,
                "device:" + f.DeviceId, c.Recording, c.WavPath, c.StartMs, source, Field: lineage, Features: c.Features));
            members.Add(new DatasetMember(f.DeviceId, f.ClipId));
        }

        string rule = timeSplit ? TimeSplitRule(options) : SplitRule;
        var exportOptions = new DatasetExportOptions(timeSplit ? LeakageCheck.ByRecording : LeakageCheck.Checked,
            timeSplit ? w => WriteTimeSplit(w, options, cuts) : null);
        DatasetExportResult r = new DatasetExporter(time).Export(examples, [keyword], outputDirectory,
            [new DatasetSource("gateway", "gateway store", "edgekws-gateway")], rule, exportOptions);
        long added = store.AddDatasetMembers(r.DatasetId, members);
        return new GatewayExportResult(r.DatasetId, outputDirectory, examples.Count, r.CountsBySplit, added, unreadable, options.Split, rule,
            Triggers: examples.Count(e => e.Field!.Kind == FieldClipKinds.Trigger), NearMisses: examples.Count(e => e.Field!.Kind == FieldClipKinds.NearMiss),
            KeywordExamples: examples.Count(e => e.LabelName == keyword), BackgroundExamples: examples.Count(e => e.LabelName == DatasetExporter.BackgroundClass),
            FromDeviceFeatures: examples.Count(e => e.Features is not null), SkippedFeatureConfig: foreignFeatures, Devices: cuts);
    }

    /// <summary>The split of a device under the device split (see <see cref="SplitRule"/>).</summary>
    public static string SplitOf(string deviceId)
    {
        int b = SHA256.HashData(Encoding.UTF8.GetBytes(deviceId))[0] % 10;
        return b < 8 ? SplitNames.Train : b == 8 ? SplitNames.Validation : SplitNames.Test;
    }

    /// <summary>A dataset directory name: 1..64 of a-z, A-Z, 0-9, '-', '_', '.' and not starting with '.'.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name[0] != '.' && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.');

    /// <summary>The time split's rule as written into dataset.json.</summary>
    public static string TimeSplitRule(FieldDatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string test = options.TestFromUtc is { } cut
            ? "clips captured at or after " + cut.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)
            : $"its latest ceil(n x {options.HoldoutFraction.ToString(CultureInfo.InvariantCulture)}) clips";
        return $"time per device: clips ordered by capture time; test = {test} (held out for the gate, never trained on); validation = the " +
            $"floor(n x {options.ValidationFraction.ToString(CultureInfo.InvariantCulture)}) clips just before; train = the rest; a cut never splits " +
            "overlapping clips or equal capture times (cuts per device in timeSplit)";
    }

    // A clip that can be exported, with its window; its recording and split are set once the device's clips are ordered.
    private sealed class Candidate(FieldClip clip, string wavPath, double startMs, float[]? features, double durationMs)
    {
        public FieldClip Clip { get; } = clip;
        public string WavPath { get; } = wavPath;
        public double StartMs { get; } = startMs;
        public float[]? Features { get; } = features;
        public double DurationMs { get; } = durationMs;
        public string Recording { get; set; } = string.Empty;
        public string Split { get; set; } = SplitNames.Train;
    }

    private enum WindowResult
    {
        Ok,
        Unreadable,
        ForeignFeatures,
    }

    // The 1 s window of a clip: the 98 frames in the middle of the clip's frames, from the audio (written as WAV) or from the device's features.
    private static WindowResult TryWindow(FieldClip c, MfccConfig config, int windowFrames, string clipsDir, out Candidate? candidate)
    {
        candidate = null;
        if (c.FrameIsAudio)
        {
            if (!ClipAudio.TryReadHeader(c.Frame, out ClipHeader header, out _))
            {
                return WindowResult.Unreadable;
            }
            string deviceDir = Path.Combine(clipsDir, c.DeviceId);
            Directory.CreateDirectory(deviceDir);
            string wav = Path.Combine(deviceDir, c.ClipId + ".wav");
            using (FileStream file = File.Create(wav))
            {
                ClipWav.TryWrite(c.Frame, file, out _);
            }
            double durationMs = header.FrameCount * 1000.0 / header.SampleRateHz;
            // The exporter reads the WAV at 16 kHz; the clip's frame count at that rate decides the middle frames.
            int frames = config.FrameCount((long)Math.Round(durationMs * config.SampleRateHz / 1000));
            double startMs = frames >= windowFrames ? (frames - windowFrames) / 2 * config.HopMs : (durationMs / 2) - 500;
            candidate = new Candidate(c, wav, startMs, null, durationMs);
            return WindowResult.Ok;
        }
        if (!ClipFeatures.TryReadHeader(c.Frame, out ClipHeader fh, out _))
        {
            return WindowResult.Unreadable;
        }
        if (fh.ConfigHash.ToString() != config.FeatureConfigHash || fh.ValuesPerFrame != config.CoefficientCount || fh.SampleRateHz != config.SampleRateHz
            || fh.FrameCount < windowFrames)
        {
            return WindowResult.ForeignFeatures;
        }
        var all = new float[fh.FrameCount * fh.ValuesPerFrame];
        if (!ClipFeatures.TryReadFeatures(c.Frame, fh, all, out _))
        {
            return WindowResult.Unreadable;
        }
        int start = (fh.FrameCount - windowFrames) / 2;
        float[] window = all.AsSpan(start * fh.ValuesPerFrame, windowFrames * fh.ValuesPerFrame).ToArray();
        double clipMs = ((fh.FrameCount - 1) * config.HopMs) + config.WindowMs;
        candidate = new Candidate(c, string.Empty, start * config.HopMs, window, clipMs);
        return WindowResult.Ok;
    }

    // Source recordings of a device's clips in capture order: a clip joins the recording of an earlier clip it overlaps (stream offsets closer
    // than the clip length, and capture times closer than the clip length plus the decision slack: after an agent restart stream offsets start
    // again, while in a faster-than-real-time replay capture times crowd). Returns, per clip, the index of its recording's first clip.
    private static int[] Recordings(Candidate[] ordered)
    {
        int[] group = new int[ordered.Length];
        for (int i = 0; i < ordered.Length; i++)
        {
            group[i] = i;
            for (int j = i - 1; j >= 0; j--)
            {
                Candidate a = ordered[j], b = ordered[i];
                double lengthMs = Math.Max(a.DurationMs, b.DurationMs);
                if (b.Clip.DeviceTimeUtc - a.Clip.DeviceTimeUtc >= TimeSpan.FromMilliseconds(lengthMs) + DecisionSlack)
                {
                    break; // ordered by capture time: no earlier clip can overlap
                }
                if (Math.Abs(b.Clip.StreamOffsetMs - a.Clip.StreamOffsetMs) < lengthMs)
                {
                    group[i] = group[j];
                    break;
                }
            }
        }
        return group;
    }

    // The time split of one device's clips (ordered by capture time): test from index t, validation from v, train before v; each cut moved
    // earlier until it splits neither a recording nor a capture time.
    private static DeviceTimeCut TimeSplit(string deviceId, Candidate[] ordered, int[] group, FieldDatasetOptions options)
    {
        int n = ordered.Length;
        int t = options.TestFromUtc is { } cut
            ? Array.FindIndex(ordered, c => c.Clip.DeviceTimeUtc >= cut) is var first and >= 0 ? first : n
            : n - (options.HoldoutFraction > 0 ? Math.Max(1, (int)Math.Ceiling(n * options.HoldoutFraction)) : 0);
        t = Settle(t);
        int v = Settle(Math.Max(0, t - (int)Math.Floor(n * options.ValidationFraction)));
        for (int i = 0; i < n; i++)
        {
            ordered[i].Split = i >= t ? SplitNames.Test : i >= v ? SplitNames.Validation : SplitNames.Train;
        }
        return new DeviceTimeCut(deviceId, v, t - v, n - t, t > v ? ordered[v].Clip.DeviceTimeUtc : null, t < n ? ordered[t].Clip.DeviceTimeUtc : null,
            v > 0 ? ordered[v - 1].Clip.DeviceTimeUtc : null);

        int Settle(int index)
        {
            while (index > 0 && index < n && !IsCut(index))
            {
                index--;
            }
            return index;
        }

        // A cut before clip `index` is clean when the clips on either side differ in capture time and every recording with a clip at or after
        // the cut starts there (group[i] is the index of its recording's first clip).
        bool IsCut(int index)
        {
            if (ordered[index - 1].Clip.DeviceTimeUtc == ordered[index].Clip.DeviceTimeUtc)
            {
                return false;
            }
            for (int i = index; i < n; i++)
            {
                if (group[i] < index)
                {
                    return false;
                }
            }
            return true;
        }
    }

    private static void WriteTimeSplit(Utf8JsonWriter w, FieldDatasetOptions options, List<DeviceTimeCut> cuts)
    {
        w.WriteStartObject("timeSplit");
        w.WriteString("orderedBy", "capturedUtc (the device's clock at the detection or near-miss decision), then sequence");
        if (options.TestFromUtc is { } cut)
        {
            w.WriteString("testFromUtc", Utc(cut));
        }
        else
        {
            w.WriteNumber("holdoutFraction", options.HoldoutFraction);
        }
        w.WriteNumber("validationFraction", options.ValidationFraction);
        w.WriteStartArray("devices");
        foreach (DeviceTimeCut c in cuts)
        {
            w.WriteStartObject();
            w.WriteString("deviceId", c.DeviceId);
            w.WriteNumber("train", c.Train);
            w.WriteNumber("validation", c.Validation);
            w.WriteNumber("test", c.Test);
            WriteTime("lastTrainUtc", c.LastTrainUtc);
            WriteTime("validationFromUtc", c.ValidationFromUtc);
            WriteTime("testFromUtc", c.TestFromUtc);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        void WriteTime(string name, DateTimeOffset? t)
        {
            if (t is { } v)
            {
                w.WriteString(name, Utc(v));
            }
            else
            {
                w.WriteNull(name);
            }
        }
    }

    private static string Utc(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
