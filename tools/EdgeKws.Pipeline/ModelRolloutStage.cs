namespace EdgeKws.Pipeline;

/// <summary>
/// Stage 6: a model quantized in this run, evaluated and gated, signed, rolled out canary-first through
/// the gateway's model publisher and confirmed by every agent (ModelStatus). The gateway side (model
/// registry, signing, MQTT publisher, staged rollout) is another branch's work; until the gateway
/// serves it, <see cref="ProbeAsync"/> says why the stage is skipped.
/// </summary>
internal sealed class ModelRolloutStage(RepoLayout repo, string outDir, Progress progress, MainJobSummary summary)
{
    /// <summary>Null when the gateway can publish models, else why not.</summary>
    public async Task<string?> ProbeAsync(GatewayClient gateway, CancellationToken ct)
    {
        _ = repo;
        _ = outDir;
        _ = progress;
        _ = summary;
        System.Text.Json.JsonElement? rollouts = await gateway.TryGetAsync("api/rollouts", ct).ConfigureAwait(false);
        return rollouts is null ? "waiting for the model publisher: this gateway has no model registry / rollout API yet" : null;
    }

    public Task<(bool, string)> RunAsync(GatewayClient gateway, CancellationToken ct)
    {
        _ = gateway;
        _ = ct;
        throw new InvalidOperationException("the model publisher is not wired in yet");
    }
}
