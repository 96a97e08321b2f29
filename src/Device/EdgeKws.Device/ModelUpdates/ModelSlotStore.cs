using System.Text;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Signing;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// The on-disk layout of the two model slots and the <c>active</c> pointer file: where each file
/// lives, how the pointer is spelled, and how a slot is written durably or wiped. Knows nothing
/// about what makes a model trustworthy or which slot should run; <see cref="ModelSlots"/> decides that.
/// </summary>
/// <remarks>
/// Layout under <c>{state}/models/</c>:
/// <code>
/// active            "active=A\nprevious=B\n" (previous=- when none); replaced atomically
/// A/manifest.json   the signed manifest, byte for byte as received
/// A/manifest.sig    its 64-byte ECDSA P-256 P1363 signature
/// A/{fileName}      the model, named by the manifest
/// B/...             the same; B/incoming.part while a transfer is being assembled
/// </code>
/// </remarks>
internal sealed class ModelSlotStore(string modelsDirectory)
{
    public const string ActivePointerFileName = "active";
    public const string ManifestFileName = "manifest.json";
    public const string SignatureFileName = "manifest.sig";
    public const string StagingFileName = "incoming.part";

    // The pointer is two short lines; anything bigger is damage, not a pointer, and is not read whole.
    private const int MaxPointerBytes = 64;

    public string ModelsDirectory { get; } = modelsDirectory;

    public string PointerPath => Path.Combine(ModelsDirectory, ActivePointerFileName);

    public bool HasPointer => File.Exists(PointerPath);

    public string SlotDirectory(ModelSlot slot) => Path.Combine(ModelsDirectory, slot.ToString());

    public string ManifestPath(ModelSlot slot) => Path.Combine(SlotDirectory(slot), ManifestFileName);

    /// <summary>
    /// True when a manifest's <c>fileName</c> would overwrite or be mistaken for one of the slot's own
    /// files (including <see cref="DurableFile"/>'s <c>.tmp</c> siblings).
    /// </summary>
    public static bool IsBookkeepingName(string fileName) =>
        fileName is ManifestFileName or SignatureFileName or StagingFileName or ActivePointerFileName
        || fileName.EndsWith(".tmp", StringComparison.Ordinal);

    public bool TryCreateSlotDirectories(out string reason)
    {
        try
        {
            Directory.CreateDirectory(SlotDirectory(ModelSlot.A));
            Directory.CreateDirectory(SlotDirectory(ModelSlot.B));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot create the model slot folders under {ModelsDirectory}: {ex.Message}";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>Replaces the pointer atomically (fsynced), so a crash leaves the old or the new one, never a mix.</summary>
    public bool TryWritePointer(ModelSlot active, ModelSlot? previous, out string reason)
    {
        string text = $"active={active}\nprevious={(previous is { } p ? p.ToString() : "-")}\n";
        try
        {
            DurableFile.WriteAtomically(PointerPath, Encoding.ASCII.GetBytes(text));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = ex.Message;
            return false;
        }
        reason = "";
        return true;
    }

    public bool TryReadPointer(out ModelSlot active, out ModelSlot? previous, out string reason)
    {
        string path = PointerPath;
        active = default;
        previous = null;
        string text;
        try
        {
            if (new FileInfo(path).Length > MaxPointerBytes)
            {
                reason = $"the pointer file is larger than {MaxPointerBytes} bytes";
                return false;
            }
            text = File.ReadAllText(path, Encoding.ASCII);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read {path}: {ex.Message}";
            return false;
        }
        string[] lines = text.Split('\n');
        if (lines.Length != 3 || lines[2].Length != 0
            || !TryParseSlot(lines[0], "active=", out ModelSlot? a) || a is null
            || !TryParseSlot(lines[1], "previous=", out ModelSlot? p) || p == a)
        {
            reason = $"pointer file content '{ModelUpdateOutcome.WireText(text).Trim()}' is not 'active=A|B\\nprevious=A|B|-\\n'";
            return false;
        }
        active = a.Value;
        previous = p;
        reason = "";
        return true;
    }

    private static bool TryParseSlot(string line, string prefix, out ModelSlot? slot)
    {
        slot = null;
        if (!line.StartsWith(prefix, StringComparison.Ordinal)) return false;
        switch (line[prefix.Length..])
        {
            case "A": slot = ModelSlot.A; return true;
            case "B": slot = ModelSlot.B; return true;
            case "-": return prefix != "active=";
            default: return false;
        }
    }

    /// <summary>
    /// Reads a slot's manifest and signature as stored, refusing files of impossible size before
    /// reading them (a damaged slot must not make the boot read an arbitrarily large file). Trusts
    /// nothing: the caller verifies what it gets.
    /// </summary>
    public bool TryReadSignedManifest(ModelSlot slot, out byte[] manifestBytes, out byte[] signature, out string reason)
    {
        manifestBytes = [];
        signature = [];
        string dir = SlotDirectory(slot);
        string manifestPath = Path.Combine(dir, ManifestFileName);
        try
        {
            if (!File.Exists(manifestPath))
            {
                reason = $"slot {slot} has no {ManifestFileName}";
                return false;
            }
            var sigInfo = new FileInfo(Path.Combine(dir, SignatureFileName));
            if (!sigInfo.Exists || sigInfo.Length != ManifestSignature.SizeBytes)
            {
                reason = $"slot {slot} has no valid {SignatureFileName}";
                return false;
            }
            if (new FileInfo(manifestPath).Length > ModelTransfer.MaxManifestBytes)
            {
                reason = $"slot {slot} manifest is larger than {ModelTransfer.MaxManifestBytes} bytes";
                return false;
            }
            manifestBytes = File.ReadAllBytes(manifestPath);
            signature = File.ReadAllBytes(sigInfo.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"slot {slot} cannot be read: {ex.Message}";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>
    /// Replaces the slot's contents with the update: the model (moved from the staging file when it
    /// is already in this slot, else copied), then the signature, then the manifest, each fsynced,
    /// then the folder. The manifest goes last so a slot cut short by a crash has none and never
    /// verifies. On failure the slot is wiped and the I/O error returned.
    /// </summary>
    public bool TryWriteSlot(ModelSlot slot, ModelUpdate update, string modelFileName, out string reason)
    {
        string dir = SlotDirectory(slot);
        string modelPath = Path.Combine(dir, modelFileName);
        try
        {
            ClearSlot(slot, keep: update.StagedModelPath);
            if (update.ModelBytes is { } bytes)
            {
                DurableFile.WriteAtomically(modelPath, bytes);
            }
            else
            {
                string staged = Path.GetFullPath(update.StagedModelPath!);
                DurableFile.Fsync(staged);
                if (string.Equals(Path.GetDirectoryName(staged), Path.GetFullPath(dir), StringComparison.Ordinal))
                {
                    File.Move(staged, modelPath, overwrite: true);
                }
                else
                {
                    File.Copy(staged, modelPath, overwrite: true);
                    DurableFile.Fsync(modelPath);
                    File.Delete(staged);
                }
            }
            DurableFile.WriteAtomically(Path.Combine(dir, SignatureFileName), update.Signature.Span);
            DurableFile.WriteAtomically(Path.Combine(dir, ManifestFileName), update.Manifest.Span);
            DurableFile.FsyncDirectory(dir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            WipeSlot(slot);
            reason = ex.Message;
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>Best effort: a slot that failed must not look installable later.</summary>
    public void WipeSlot(ModelSlot slot)
    {
        try
        {
            ClearSlot(slot, keep: null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The pointer never names this slot as active or previous, so leftovers are never used.
        }
    }

    /// <summary>Best effort: drops a refused update's staging file.</summary>
    public static void DeleteStaged(ModelUpdate update)
    {
        if (update.StagedModelPath is { } staged)
        {
            try
            {
                File.Delete(staged);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left for the next transfer to overwrite; never read as a model.
            }
        }
    }

    private void ClearSlot(ModelSlot slot, string? keep)
    {
        string dir = SlotDirectory(slot);
        string? keepFull = keep is null ? null : Path.GetFullPath(keep);
        foreach (string file in Directory.EnumerateFiles(dir))
        {
            if (!string.Equals(Path.GetFullPath(file), keepFull, StringComparison.Ordinal)) File.Delete(file);
        }
        DurableFile.FsyncDirectory(dir);
    }
}
