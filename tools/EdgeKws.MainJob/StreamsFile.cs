using System.Text.Json;
using EdgeKws.Shared.Audio;

namespace EdgeKws.MainJob;

/// <summary>
/// Device WAVs as an <c>edgekws-streams/1</c> file (docs/model-loop.md "Streams file"): each WAV a positive stream with its
/// known "hey edge" times; what lies outside them counts toward FA/hour. The gate's evaluation set and the loop's per-device
/// scoring are both written here.
/// </summary>
internal static class StreamsFile
{
    public static async Task WriteAsync(string path, IEnumerable<DeviceRecording> recordings, string description, CancellationToken ct)
    {
        var streams = recordings.Select(r => new
        {
            name = r.DeviceId + ".wav",
            wavPath = r.WavPath,
            kind = "Positive",
            durationMs = WavDurationMs(r.WavPath),
            phrases = r.Keywords.Select(k => new { phrase = Labeler.WakePhrase, startMs = k.StartMs, endMs = k.EndMs }).ToArray(),
        }).ToArray();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new { formatVersion = "edgekws-streams/1", description, streams },
            new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
    }

    private static double WavDurationMs(string path)
    {
        using var source = new AudioFileSource(path);
        var block = new float[16_000];
        long n = 0;
        int read;
        while ((read = source.Read(block)) > 0)
        {
            n += read;
        }
        return n / 16.0;
    }
}
