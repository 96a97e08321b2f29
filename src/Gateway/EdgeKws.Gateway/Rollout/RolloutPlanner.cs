using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// Turns a <see cref="RolloutRequest"/> into a new rollout (every device Pending at its step), or refuses it: a model that is
/// not a gated candidate, another active rollout, an empty or duplicate step, an unknown device or one that already runs the
/// version, a bad soak. Changes when what a valid plan is changes.
/// </summary>
internal sealed class RolloutPlanner(IGatewayStore store, ModelRegistry registry, ModelLoopOptions options, TimeProvider clock)
{
    private RolloutOptions Rules => options.Rollout;

    /// <exception cref="RolloutRefusedException">What is wrong with the request, with the HTTP status that fits.</exception>
    public RolloutRecord Plan(RolloutRequest request)
    {
        string version = request.ModelVersion ?? string.Empty;
        if (!registry.Store.TryGetRegisteredModel(version, out RegisteredModel? model))
        {
            throw new RolloutRefusedException($"model '{version}' is not registered", 404);
        }
        switch (model!.Stage)
        {
            case ModelStage.Refused:
                throw new RolloutRefusedException($"model '{version}' failed the offline gate and is never rolled out: {model.GateSummary}", 409);
            case ModelStage.Production:
                throw new RolloutRefusedException($"model '{version}' is production already", 409);
            case ModelStage.RolledBack:
            case ModelStage.Retired:
                throw new RolloutRefusedException($"model '{version}' is {model.Stage}; register a new version to try again", 409);
        }
        if (store.ReadRollouts(activeOnly: true, limit: 1) is [var active, ..])
        {
            throw new RolloutRefusedException($"rollout {active.Id} of '{active.ModelVersion}' is still {active.State}; one rollout at a time", 409);
        }
        string[][] steps = [request.Canaries ?? [], .. request.Waves ?? []];
        if (steps[0].Length == 0)
        {
            throw new RolloutRefusedException("canaries: at least one canary device is required", 400);
        }
        if (steps.Any(s => s.Length == 0))
        {
            throw new RolloutRefusedException("waves: every wave needs at least one device", 400);
        }
        double soak = request.SoakListeningHours ?? Rules.SoakListeningHours;
        if (!(soak >= 0) || double.IsInfinity(soak))
        {
            throw new RolloutRefusedException("soakListeningHours must be >= 0", 400);
        }
        Dictionary<string, DeviceRecord> known = store.ReadDevices().ToDictionary(d => d.DeviceId, StringComparer.Ordinal);
        var devices = new List<RolloutDevice>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int step = 0; step < steps.Length; step++)
        {
            foreach (string id in steps[step])
            {
                if (!seen.Add(id))
                {
                    throw new RolloutRefusedException($"device '{id}' is listed twice", 400);
                }
                if (!known.TryGetValue(id, out DeviceRecord? device))
                {
                    throw new RolloutRefusedException($"device '{id}' is unknown", 404);
                }
                if (device.ModelVersion == version)
                {
                    throw new RolloutRefusedException($"device '{id}' already runs '{version}'", 409);
                }
                devices.Add(new RolloutDevice(id, step, RolloutDeviceState.Pending, device.ModelVersion, null, null, null, null, null, device.ModelVersion, null));
            }
        }
        DateTimeOffset now = clock.GetUtcNow();
        return new RolloutRecord(0, version, registry.Production?.ModelVersion, RolloutState.Running, 0, steps.Length, soak, now, now, null, null, null,
            devices, null, 0);
    }
}
