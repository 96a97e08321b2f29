using System.Security.Cryptography;
using System.Text;
using EdgeKws.Gateway.Storage;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Import;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Labeling;

/// <summary>What a gateway dataset export wrote.</summary>
/// <param name="DatasetId">The dataset id (as in dataset.json).</param>
/// <param name="Directory">Where it was written.</param>
/// <param name="Examples">Examples exported.</param>
/// <param name="CountsBySplit">Examples per split.</param>
/// <param name="MembersAdded">Dataset membership rows recorded in the store (0 for a repeated export of the same data).</param>
/// <param name="SkippedUnreadable">Clips whose audio frame could not be read (left out).</param>
public sealed record GatewayExportResult(string DatasetId, string Directory, int Examples, IReadOnlyDictionary<string, int> CountsBySplit, long MembersAdded, int SkippedUnreadable);

/// <summary>
/// Exports the gateway's labelled device clips as a training dataset (docs/dataset-format.md) through the labeling library's
/// <see cref="DatasetExporter"/>, which computes the features with the shared <c>MfccExtractor</c>, and records which device clips
/// went into it (<see cref="IGatewayStore.AddDatasetMembers"/>), so erasing a device later marks models trained on it.
/// </summary>
/// <remarks>
/// Decisions: only detections labelled TrueAccept or FalseAccept with stored raw audio are exported (feature-only clips would
/// need a second feature path); a true accept is the keyword class, a false accept is <c>_background_</c> (a hard negative).
/// The 1 s window is centred on the clip (the device cuts the clip around the keyword end; a clip longer than 1 s is cut at the
/// window edges). Each device is one speaker, and the split is chosen per device (SHA-256 of the id: 80 % train, 10 %
/// validation, 10 % test), so no device is in two splits and the leakage check passes by construction.
/// </remarks>
public static class GatewayDatasetExport
{
    /// <summary>The split rule written into dataset.json.</summary>
    public const string SplitRule = "per device: first byte of SHA-256(device id) mod 10: 0-7 train, 8 validation, 9 test";

    private const int PageSize = 256;

    /// <summary>Writes the dataset into <paramref name="outputDirectory"/> (clips as WAV under <c>clips/</c>) and records membership.</summary>
    /// <exception cref="InvalidOperationException">No labelled clip with raw audio is stored.</exception>
    public static GatewayExportResult Export(IGatewayStore store, string outputDirectory, string keyword, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(keyword);
        string clipsDir = Path.Combine(outputDirectory, "clips");
        var examples = new List<DatasetExample>();
        var members = new List<DatasetMember>();
        int unreadable = 0;
        string afterDevice = string.Empty;
        long afterSeq = long.MinValue;
        while (true)
        {
            IReadOnlyList<LabelledClip> page = store.ReadLabelledClips(afterDevice, afterSeq, PageSize);
            foreach (LabelledClip c in page)
            {
                if (!ClipAudio.TryReadHeader(c.AudioFrame, out ClipHeader header, out _))
                {
                    unreadable++;
                    continue;
                }
                string deviceDir = Path.Combine(clipsDir, c.Label.DeviceId);
                Directory.CreateDirectory(deviceDir);
                string wav = Path.Combine(deviceDir, c.ClipId + ".wav");
                using (FileStream f = File.Create(wav))
                {
                    ClipWav.TryWrite(c.AudioFrame, f, out _);
                }
                double durationMs = header.FrameCount * 1000.0 / header.SampleRateHz;
                LabelProvenance? p = c.Provenance;
                var source = new LabelSource(p?.Kind == LabelProvenanceKinds.Review ? LabelKinds.Review : p is null ? LabelKinds.Import : LabelKinds.Aligner,
                    p?.Tool ?? c.Label.Source, p?.Confidence, p?.Reviewer);
                examples.Add(new DatasetExample($"{c.Label.DeviceId}/{c.ClipId}", SplitOf(c.Label.DeviceId),
                    c.Label.Label == DetectionLabelKind.TrueAccept ? keyword : DatasetExporter.BackgroundClass, "device:" + c.Label.DeviceId,
                    $"{c.Label.DeviceId}/{c.ClipId}", wav, (durationMs / 2) - 500, source));
                members.Add(new DatasetMember(c.Label.DeviceId, c.ClipId));
            }
            if (page.Count < PageSize)
            {
                break;
            }
            (afterDevice, afterSeq) = (page[^1].Label.DeviceId, page[^1].Label.Sequence);
        }
        if (examples.Count == 0)
        {
            throw new InvalidOperationException("no labelled clip with raw audio is stored: label trigger clips (worker or review) before exporting");
        }

        DatasetExportResult r = new DatasetExporter(time).Export(examples, [keyword], outputDirectory,
            [new DatasetSource("gateway", "gateway store", "edgekws-gateway")], SplitRule);
        long added = store.AddDatasetMembers(r.DatasetId, members);
        return new GatewayExportResult(r.DatasetId, outputDirectory, examples.Count, r.CountsBySplit, added, unreadable);
    }

    /// <summary>The split of a device (see <see cref="SplitRule"/>).</summary>
    public static string SplitOf(string deviceId)
    {
        int b = SHA256.HashData(Encoding.UTF8.GetBytes(deviceId))[0] % 10;
        return b < 8 ? SplitNames.Train : b == 8 ? SplitNames.Validation : SplitNames.Test;
    }

    /// <summary>A dataset directory name: 1..64 of a-z, A-Z, 0-9, '-', '_', '.' and not starting with '.'.</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name[0] != '.' && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.');
}
