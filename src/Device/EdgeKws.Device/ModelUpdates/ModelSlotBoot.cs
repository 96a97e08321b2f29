using EdgeKws.Detection;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// What the boot decided to run. <see cref="Detector"/> is owned by whoever receives the decision;
/// <see cref="Active"/> null means no model runs (the other model fields are then null too).
/// </summary>
/// <param name="Active">The slot to run, already recorded in the pointer.</param>
/// <param name="Previous">The vetted rollback target the pointer records, if any.</param>
/// <param name="Model">The verified model of <paramref name="Active"/>.</param>
/// <param name="Detector">A detector on <paramref name="Model"/>, ready to run.</param>
/// <param name="FellBack">True when the boot did not run the slot the pointer named (it was invalid or the pointer was).</param>
/// <param name="Report">What the boot found, in one sentence.</param>
internal readonly record struct ModelSlotBootDecision(
    ModelSlot? Active, ModelSlot? Previous, KeywordModel? Model, KeywordDetector? Detector, bool FellBack, string Report);

/// <summary>
/// The boot's choice of slot: the one the pointer names if it still verifies, else the recorded
/// previous slot, else (pointer damaged) the newest slot that verifies. Changes when the fallback
/// policy changes; the checks themselves are <see cref="ModelPackageVerifier"/>'s.
/// </summary>
internal static class ModelSlotBoot
{
    /// <summary>
    /// Re-verifies and picks the slot to run, rewriting the pointer when it falls back so the next
    /// boot starts from what actually ran. Disposes every detector it does not hand back.
    /// </summary>
    public static ModelSlotBootDecision Decide(ModelSlotStore store, ModelPackageVerifier packages)
    {
        if (!store.HasPointer)
        {
            return NoModel(fellBack: false, "no model installed (no active pointer); waiting for a signed model update");
        }
        if (store.TryReadPointer(out ModelSlot active, out ModelSlot? previous, out string pointerProblem))
        {
            return FromPointer(store, packages, active, previous);
        }
        return WithoutPointer(store, packages, pointerProblem);
    }

    private static ModelSlotBootDecision FromPointer(ModelSlotStore store, ModelPackageVerifier packages, ModelSlot active, ModelSlot? previous)
    {
        if (packages.TryVerifySlot(store, active, out var model, out var detector, out string why))
        {
            return new(active, previous, model, detector, FellBack: false,
                $"slot {active} active: model {model!.Manifest.ModelVersion} verified");
        }
        if (previous is { } prev && packages.TryVerifySlot(store, prev, out model, out detector, out _))
        {
            if (!store.TryWritePointer(prev, null, out string io))
            {
                detector!.Dispose();
                return NoModel(fellBack: false,
                    $"active slot {active} failed verification ({why}); slot {prev} verifies but the pointer cannot be rewritten ({io}); no model running");
            }
            // The slot that failed verification is not recorded as previous: it holds nothing vetted to roll back to.
            return new(prev, null, model, detector, FellBack: true,
                $"active slot {active} failed verification ({why}); fell back to slot {prev}: model {model!.Manifest.ModelVersion}");
        }
        return NoModel(fellBack: false, previous is null
            ? $"active slot {active} failed verification ({why}) and no previous slot is recorded; no model running"
            : $"active slot {active} failed verification ({why}) and so did previous slot {previous} ({ReasonOf(store, packages, previous.Value)}); no model running");
    }

    /// <summary>
    /// The pointer is written atomically, so a bad one means outside damage: run whichever slot
    /// verifies (the newer one if both do) rather than nothing, and say so.
    /// </summary>
    private static ModelSlotBootDecision WithoutPointer(ModelSlotStore store, ModelPackageVerifier packages, string pointerProblem)
    {
        ModelSlot? chosen = null;
        KeywordModel? best = null;
        KeywordDetector? bestDetector = null;
        foreach (ModelSlot slot in (ReadOnlySpan<ModelSlot>)[ModelSlot.A, ModelSlot.B])
        {
            if (!packages.TryVerifySlot(store, slot, out var m, out var d, out _)) continue;
            if (best is null || m!.Manifest.CreatedUtc > best.Manifest.CreatedUtc)
            {
                bestDetector?.Dispose();
                (chosen, best, bestDetector) = (slot, m, d);
            }
            else
            {
                d!.Dispose();
            }
        }
        if (chosen is { } c && store.TryWritePointer(c, null, out _))
        {
            return new(c, null, best, bestDetector, FellBack: true,
                $"active pointer unreadable ({pointerProblem}); slot {c} verifies and is now active: model {best!.Manifest.ModelVersion}");
        }
        bestDetector?.Dispose();
        return NoModel(fellBack: true, $"active pointer unreadable ({pointerProblem}) and no slot verifies; no model running");
    }

    private static ModelSlotBootDecision NoModel(bool fellBack, string report) => new(null, null, null, null, fellBack, report);

    private static string ReasonOf(ModelSlotStore store, ModelPackageVerifier packages, ModelSlot slot)
    {
        if (packages.TryVerifySlot(store, slot, out _, out var d, out string why))
        {
            d!.Dispose();
            return "verifies";
        }
        return why;
    }
}
