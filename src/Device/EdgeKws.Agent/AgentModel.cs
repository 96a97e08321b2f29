using System.Diagnostics.CodeAnalysis;
using EdgeKws.Detection;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Features;

namespace EdgeKws.Agent;

/// <summary>
/// Which model the agent runs: the active A/B slot when a model-signing key is pinned (model updates on; first boot
/// seeds slot A from the <c>--model</c> file), else the <c>--model</c> manifest (or the first in <c>--models-dir</c>).
/// </summary>
internal static class AgentModel
{
    /// <summary>
    /// Opens the slots when a key is pinned: <c>Models.PublicKeyPath</c>, or the default
    /// <c>{state}/keys/model-signing.pub.pem</c> if it exists. No key: null (model updates off). False: the key is unusable.
    /// </summary>
    public static bool TryOpenSlots(AgentConfig config, MfccConfig mfcc, out ModelSlots? slots, out string why)
    {
        slots = null;
        why = "";
        string keyPath = config.Models.PublicKeyPath ?? Path.Combine(config.StateDirectory, "keys", "model-signing.pub.pem");
        if (config.Models.PublicKeyPath is null && !File.Exists(keyPath)) return true;
        return ModelSlots.TryOpen(new ModelSlotsOptions
        {
            StateDirectory = config.StateDirectory,
            FeatureConfigHash = mfcc.FeatureConfigHash,
            PublicKeyPath = keyPath,
            ModelBudgetBytes = config.Detection.ModelBudgetBytes,
        }, out slots, out why);
    }

    /// <summary>
    /// The model to run and the manifest it came from: from <paramref name="slots"/> when they are open (seeding them on
    /// first boot), else from the file. False when there is none or it is refused; the reason is logged (exit code 3).
    /// </summary>
    public static bool TrySelect(AgentArguments args, AgentConfig config, MfccConfig mfcc, ModelSlots? slots, AgentLog log,
        [NotNullWhen(true)] out KeywordModel? model, out string manifestPath)
    {
        string why;
        if (slots is not null)
        {
            log.Write($"model slots: {slots.BootReport} (pinned key {slots.PinnedKeyId})");
            if (slots.ActiveModel is null)
            {
                if (!TryFindManifest(args, config, out manifestPath, out why) || !TrySeedSlots(slots, manifestPath, mfcc, config, log, out why))
                {
                    log.Write($"model refused: {why}");
                    model = null;
                    return false;
                }
            }
            else if (args.ModelManifest is not null || args.ModelsDirectory is not null)
            {
                log.Write($"--model/--models-dir ignored: slot {slots.ActiveSlot} is active (the slots decide what runs once they hold a model)");
            }
            model = slots.ActiveModel!;
            manifestPath = Path.Combine(slots.SlotDirectory(slots.ActiveSlot!.Value), ModelSlots.ManifestFileName);
            return true;
        }
        if (!TryFindManifest(args, config, out manifestPath, out why))
        {
            log.Write($"no model: {why}");
            model = null;
            return false;
        }
        if (!KeywordModel.TryLoad(manifestPath, mfcc.FeatureConfigHash, config.Detection.ModelBudgetBytes, out KeywordModel? loaded, out why))
        {
            log.Write($"model refused: {why}");
            model = null;
            return false;
        }
        model = loaded!;
        return true;
    }

    private static bool TryFindManifest(AgentArguments args, AgentConfig config, out string path, out string why)
    {
        why = "";
        if (args.ModelManifest is not null)
        {
            path = args.ModelManifest;
            return true;
        }
        string dir = args.ModelsDirectory ?? Path.Combine(config.StateDirectory, "models");
        path = "";
        if (!Directory.Exists(dir))
        {
            why = $"models directory '{dir}' does not exist (give --model MANIFEST or --models-dir DIR)";
            return false;
        }
        string[] manifests = Directory.GetFiles(dir, "*.manifest.json");
        Array.Sort(manifests, StringComparer.Ordinal);
        if (manifests.Length == 0)
        {
            why = $"no *.manifest.json in '{dir}'";
            return false;
        }
        path = manifests[0];
        return true;
    }

    /// <summary>
    /// First boot with model updates on: the slots are empty, so the --model file is installed into
    /// slot A through the same checks as any update (signature, hash, budget, load, canaries). It must
    /// carry its detached signature beside it (<c>{manifest}.sig</c>, 64 bytes P1363): an unsigned
    /// model never becomes a slot, so a device that pins a key only ever runs signed models.
    /// </summary>
    private static bool TrySeedSlots(ModelSlots slots, string manifestPath, MfccConfig mfcc, AgentConfig config, AgentLog log, out string why)
    {
        string signaturePath = manifestPath + ".sig";
        if (!File.Exists(signaturePath))
        {
            why = $"model updates are on (a signing key is pinned) and the slots are empty, but {manifestPath} has no signature {signaturePath} to seed slot A with";
            return false;
        }
        if (!KeywordModel.TryLoad(manifestPath, mfcc.FeatureConfigHash, config.Detection.ModelBudgetBytes, out KeywordModel? model, out why)) return false;
        ModelUpdate seed;
        try
        {
            seed = ModelUpdate.FromBytes(File.ReadAllBytes(manifestPath), File.ReadAllBytes(signaturePath), File.ReadAllBytes(model!.ModelPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            why = $"cannot read the seed model: {ex.Message}";
            return false;
        }
        ModelUpdateOutcome outcome = slots.TryInstall(seed);
        if (!outcome.Succeeded)
        {
            why = $"seeding slot {slots.IdleSlot} from {manifestPath}: {outcome.Reason}";
            return false;
        }
        log.Write($"model slots: seeded slot {slots.ActiveSlot} from {manifestPath}: model {slots.ActiveModelVersion}");
        why = "";
        return true;
    }
}
