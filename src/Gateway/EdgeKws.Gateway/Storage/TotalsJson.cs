using System.Text.Json;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>A heartbeat's totals as stored (the wire's own JSON, so a column holds exactly what the device said).</summary>
internal static class TotalsJson
{
    public static string Serialize(HeartbeatTotals totals) => JsonSerializer.Serialize(totals, WireJsonContext.Default.HeartbeatTotals);

    /// <summary>Parses a stored column; a row that does not parse (it always does: it was validated at ingest) reads as null.</summary>
    public static HeartbeatTotals? Parse(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(json, WireJsonContext.Default.HeartbeatTotals);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
