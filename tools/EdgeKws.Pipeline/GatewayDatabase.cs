using SQLite;

namespace EdgeKws.Pipeline;

/// <summary>
/// Read-only look into the gateway's SQLite file for what its HTTP API does not serve: the consented
/// clip audio of each detection (to label it by forced alignment until the gateway's own labeling
/// worker does) and the stored drift sketches (to build the reference device's baseline). WAL mode
/// lets this reader run beside the gateway's writer; nothing is ever written here.
/// </summary>
internal sealed class GatewayDatabase : IDisposable
{
    private readonly SQLiteConnection _db;

    public GatewayDatabase(string path)
    {
        _db = new SQLiteConnection(new SQLiteConnectionString(path, SQLiteOpenFlags.ReadOnly | SQLiteOpenFlags.FullMutex, storeDateTimeAsTicks: false));
        _db.BusyTimeout = TimeSpan.FromSeconds(10);
    }

    /// <summary>Detections with their stream offset and, when stored, their consented audio clip.</summary>
    public List<DetectionClipRow> ReadDetectionClips() => _db.Query<DetectionClipRow>(
        """
        SELECT d.device_id AS DeviceId, d.seq AS Sequence, d.stream_offset_ms AS StreamOffsetMs, d.score AS Score,
               d.model_version AS ModelVersion, d.clip_id AS ClipId, c.frame AS AudioFrame
        FROM detections d LEFT JOIN clips c ON c.clip_id = d.clip_id AND c.kind = 'audio'
        ORDER BY d.device_id, d.seq
        """);

    /// <summary>Sketch JSON of one device, oldest window first.</summary>
    public List<SketchRow> ReadSketches(string deviceId) => _db.Query<SketchRow>(
        "SELECT sketch_json AS Json, model_version AS ModelVersion FROM sketches WHERE device_id = ? ORDER BY window_start_utc_ms", deviceId);

    public void Dispose() => _db.Dispose();
}

internal sealed class DetectionClipRow
{
    public string DeviceId { get; set; } = "";
    public long Sequence { get; set; }
    public long StreamOffsetMs { get; set; }
    public double Score { get; set; }
    public string ModelVersion { get; set; } = "";
    public string? ClipId { get; set; }
    public byte[]? AudioFrame { get; set; }
}

internal sealed class SketchRow
{
    public byte[] Json { get; set; } = [];
    public string? ModelVersion { get; set; }
}
