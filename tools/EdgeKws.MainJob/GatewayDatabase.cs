using SQLite;

namespace EdgeKws.MainJob;

/// <summary>
/// Read-only look into the gateway's SQLite file for what its HTTP API does not serve: each detection's
/// stream offset (to compare labels with the corpus ground truth) and the stored drift sketches (to
/// build the reference device's baseline). WAL mode
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

    /// <summary>Detections with their stream offset (the API does not serve it), for the ground-truth comparison.</summary>
    public List<DetectionClipRow> ReadDetections() => _db.Query<DetectionClipRow>(
        """
        SELECT device_id AS DeviceId, seq AS Sequence, stream_offset_ms AS StreamOffsetMs, score AS Score,
               model_version AS ModelVersion, clip_id AS ClipId
        FROM detections ORDER BY device_id, seq
        """);

    /// <summary>Near misses the labeling worker left to review (label 'Unknown'), with their stream offset: what a reviewer would hear.</summary>
    public List<DetectionClipRow> ReadNearMissesToReview() => _db.Query<DetectionClipRow>(
        """
        SELECT device_id AS DeviceId, seq AS Sequence, stream_offset_ms AS StreamOffsetMs, score AS Score,
               model_version AS ModelVersion, clip_id AS ClipId
        FROM near_misses WHERE label = 'Unknown' ORDER BY device_id, seq
        """);

    /// <summary>Every near miss with its stream offset and its label (null until the worker labelled it; 'Unknown' = to review).</summary>
    public List<NearMissLabelRow> ReadNearMisses() => _db.Query<NearMissLabelRow>(
        "SELECT device_id AS DeviceId, seq AS Sequence, stream_offset_ms AS StreamOffsetMs, label AS Label FROM near_misses ORDER BY device_id, seq");

    /// <summary>Each device's highest near-miss sequence number so far: later near misses (another day's) lie above it.</summary>
    public Dictionary<string, long> LastNearMissSequences() => LastSequences("near_misses");

    /// <summary>Each device's highest detection sequence number so far: later detections (another day's) lie above it.</summary>
    public Dictionary<string, long> LastDetectionSequences() => LastSequences("detections");

    // Highest sequence number per device in one of the gateway's per-device tables (a constant name, never input).
    private Dictionary<string, long> LastSequences(string table) => _db.Query<DetectionClipRow>(
        $"SELECT device_id AS DeviceId, MAX(seq) AS Sequence FROM {table} GROUP BY device_id")
        .ToDictionary(r => r.DeviceId, r => r.Sequence, StringComparer.Ordinal);

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
}

internal sealed class SketchRow
{
    public byte[] Json { get; set; } = [];
    public string? ModelVersion { get; set; }
}

internal sealed class NearMissLabelRow
{
    public string DeviceId { get; set; } = "";
    public long Sequence { get; set; }
    public long StreamOffsetMs { get; set; }
    public string? Label { get; set; }
}
