using System.Globalization;
using System.Text.Json;

namespace EdgeKws.MainJob;

/// <summary>
/// The loop stage: scores a model on the last day's device audio with the project's streaming evaluator
/// (<c>edgekws-model evaluate --streams</c>: the device's own front end and detector at the manifest's threshold, against the
/// corpus keyword times). One <c>edgekws-streams/1</c> file per device, so each device has its own figures; the fleet's are
/// their counts summed (<see cref="LoopFigures.Fleet"/>), which is what one evaluation of every stream would count.
/// </summary>
internal sealed class LoopEvaluation(RepoLayout repo, string outDir, Progress progress)
{
    /// <summary>Evaluator processes at once (each runs ONNX Runtime on one thread; the machine has two cores).</summary>
    private const int Parallel = 2;

    private string LoopDirectory => Path.Combine(outDir, "loop");

    /// <summary>Writes one streams file per device (<c>loop/streams/&lt;device&gt;.json</c>) and returns their paths by device.</summary>
    public async Task<IReadOnlyDictionary<string, string>> WriteStreamsAsync(IReadOnlyList<DeviceRecording> recordings, CancellationToken ct)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DeviceRecording r in recordings)
        {
            string path = Path.Combine(LoopDirectory, "streams", r.DeviceId + ".json");
            await StreamsFile.WriteAsync(path, [r], $"main job day {r.Day}, {r.DeviceId} ({r.Room.Name})", ct).ConfigureAwait(false);
            files[r.DeviceId] = path;
        }
        return files;
    }

    /// <summary>Evaluates model <paramref name="version"/> (<paramref name="manifest"/>) on every device's streams file; <paramref name="label"/> names its output folder.</summary>
    public async Task<List<LoopFigures>> EvaluateAsync(string label, string version, string manifest, IReadOnlyDictionary<string, string> streams, CancellationToken ct)
    {
        using var slots = new SemaphoreSlim(Parallel);
        IEnumerable<Task<LoopFigures>> runs = streams.OrderBy(s => s.Key, StringComparer.Ordinal).Select(async s =>
        {
            await slots.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                return await EvaluateDeviceAsync(label, manifest, s.Key, s.Value, ct).ConfigureAwait(false);
            }
            finally
            {
                slots.Release();
            }
        });
        LoopFigures[] figures = await Task.WhenAll(runs).ConfigureAwait(false);
        // Printed in device order once all are done (they finish in any order).
        foreach (LoopFigures f in figures)
        {
            progress.Detail(string.Create(CultureInfo.InvariantCulture,
                $"{label} {version} on {f.DeviceId}: FRR {f.Frr * 100:0.0} % ({f.Missed}/{f.Keywords} missed), " +
                $"{f.FaPerHour:0.0} FA/hour ({f.FalseAccepts} in {f.NegativeHours * 60:0.00} min)"));
        }
        return [.. figures];
    }

    private async Task<LoopFigures> EvaluateDeviceAsync(string label, string manifest, string deviceId, string streamsFile, CancellationToken ct)
    {
        string dir = Path.Combine(LoopDirectory, label, deviceId);
        Directory.CreateDirectory(dir);
        (int code, string text) = await ChildProcess.RunToEndAsync(repo.ModelToolDll,
            ["evaluate", "--model", manifest, "--streams", streamsFile, "--out", dir], dir, null, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        string report = Path.Combine(dir, "evaluation.json");
        if (code != 0 || !File.Exists(report))
        {
            throw new InvalidOperationException($"edgekws-model evaluate ({label}, {deviceId}) failed ({code}): {text.Trim()}");
        }
        using JsonDocument doc = JsonDocument.Parse(await File.ReadAllBytesAsync(report, ct).ConfigureAwait(false));
        return LoopFigures.FromEvaluation(deviceId, doc.RootElement);
    }
}
