namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The labeling models' registry over either database (schema step 11, table <c>labeling_models</c>): the one implementation of
/// <see cref="ILabelingModelStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to.
/// Keyed by the file's hash, so registering the same file twice (every gateway start, several instances) writes it once; the
/// lineage is a JSON document beside the columns that are looked up or ordered by.
/// </summary>
internal sealed class LabelingModelStore : ILabelingModelStore
{
    private readonly IStoreConnections _db;
    private readonly string _readSql;

    public LabelingModelStore(IStoreConnections db)
    {
        _db = db;
        _readSql = "SELECT sha256, kind, version, file_name, size_bytes, registered_utc_ms, lineage_json FROM labeling_models "
            + $"ORDER BY registered_utc_ms DESC, sha256{db.Dialect.BinaryOrder}";
    }

    /// <summary>Schema step 11 (version 10 -> 11): the verifiers and calibrations labels are decided with, with their files
    /// (a verifier is a few hundred KB to a few MB of float ONNX; a calibration a few hundred bytes of JSON).</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS labeling_models (
            sha256             {d.Text} PRIMARY KEY NOT NULL,
            kind               {d.Text} NOT NULL,
            version            {d.Text} NOT NULL,
            file_name          {d.Text} NOT NULL,
            size_bytes         {d.Int64} NOT NULL,
            registered_utc_ms  {d.Int64} NOT NULL,
            lineage_json       {d.Text} NOT NULL,
            content            {d.Blob} NOT NULL
        )
        """,
    ];

    /// <inheritdoc />
    public bool TryAddLabelingModel(LabelingModelRecord record, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(content);
        if (record.Kind is not (LabelingModelKinds.Verifier or LabelingModelKinds.Calibration))
        {
            throw new ArgumentException($"labeling model kind '{record.Kind}' is not {LabelingModelKinds.Verifier} or {LabelingModelKinds.Calibration}", nameof(record));
        }
        if (record.Sha256.Length != 64 || !record.Sha256.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
        {
            throw new ArgumentException($"labeling model sha256 '{record.Sha256}' is not 64 lower-case hex digits", nameof(record));
        }
        if (record.SizeBytes != content.Length)
        {
            throw new ArgumentException($"labeling model {record.FileName}: record says {record.SizeBytes} bytes, content has {content.Length}", nameof(record));
        }
        return _db.Write(s => s.Execute(
            "INSERT INTO labeling_models (sha256, kind, version, file_name, size_bytes, registered_utc_ms, lineage_json, content) "
            + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            record.Sha256, record.Kind, record.Version, record.FileName, record.SizeBytes, record.RegisteredUtc.ToUnixTimeMilliseconds(),
            record.LineageJson, content)) == 1;
    }

    /// <inheritdoc />
    public IReadOnlyList<LabelingModelRecord> ReadLabelingModels() =>
        _db.Read(s => s.Query(_readSql, r => new LabelingModelRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4),
            DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), r.GetString(6))));

    /// <inheritdoc />
    public bool TryGetLabelingModelContent(string sha256, out byte[]? content)
    {
        List<byte[]?> rows = _db.Read(s => s.Query("SELECT content FROM labeling_models WHERE sha256 = $1", r => r.GetBytes(0), sha256));
        content = rows.Count == 1 ? rows[0] : null;
        return content is not null;
    }
}
