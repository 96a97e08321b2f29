namespace EdgeKws.Gateway.Rollout;

/// <summary>A rollout request (HTTP body of <c>POST /api/rollouts</c>).</summary>
/// <param name="ModelVersion">Registered version to roll out (stage Candidate: it passed the offline gate).</param>
/// <param name="Canaries">Devices of the first step.</param>
/// <param name="Waves">Later steps, in order.</param>
/// <param name="SoakListeningHours">New-version listening hours each confirmed step must accumulate before the next; null: the configured default.</param>
public sealed record RolloutRequest(string? ModelVersion, string[]? Canaries, string[][]? Waves, double? SoakListeningHours = null);

/// <summary>A request the controller refuses, with the HTTP status that fits.</summary>
public sealed class RolloutRefusedException(string message, int statusCode) : InvalidOperationException(message)
{
    /// <summary>400 bad request, 404 unknown, 409 conflict with the current state.</summary>
    public int StatusCode { get; } = statusCode;
}
