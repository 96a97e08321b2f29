using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>Receiver limits.</summary>
public sealed class ModelUpdateReceiverOptions
{
    /// <summary>A transfer with no offer or chunk for this long is dropped by <see cref="ModelUpdateReceiver.TryExpire"/>.</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>What happened to one chunk.</summary>
public enum ChunkOutcome
{
    /// <summary>Written to the staging file; more chunks are due.</summary>
    Stored,
    /// <summary>Already had it (QoS 1 redelivery, or a late copy after completion); nothing changed.</summary>
    Duplicate,
    /// <summary>The last missing chunk: the update is assembled and ready for <see cref="ModelSlots.TryInstall"/>.</summary>
    Completed,
    /// <summary>Malformed, or for no transfer in progress; the reason says which. The transfer (if any) goes on.</summary>
    Rejected,
}

/// <summary>
/// Assembles a chunked model transfer (<see cref="ModelOffer"/> then <see cref="ModelChunk"/>s in any
/// order, duplicates allowed) into a staging file in the idle slot.
/// </summary>
/// <remarks>
/// Memory is bounded by the offer, not the model: the manifest (at most 8 KB), the signature, one
/// flag per chunk, and no chunk buffering: each chunk's payload is written straight to its offset
/// (index x chunkSizeBytes) in a staging file pre-sized to the manifest's sizeBytes. The offer is
/// checked in full before any chunk is accepted (signature, manifest, feature config hash, size
/// budget, chunk geometry), so an unsigned or over-budget model is refused before it is sent.
/// One transfer at a time; a new transfer id abandons the old one. Not thread-safe: call it from the
/// one thread that handles downlink commands (and <see cref="TryExpire"/> from that thread's timer).
/// </remarks>
public sealed class ModelUpdateReceiver : IDisposable
{
    private readonly ModelSlots _slots;
    private readonly ModelUpdateReceiverOptions _options;
    private readonly TimeProvider _time;
    private Transfer? _current;
    private Guid _lastCompleted;

    public ModelUpdateReceiver(ModelSlots slots, ModelUpdateReceiverOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(slots);
        _slots = slots;
        _options = options ?? new ModelUpdateReceiverOptions();
        _time = time ?? TimeProvider.System;
    }

    public bool InProgress => _current is not null;
    public Guid? TransferId => _current?.Id;
    public int ChunkCount => _current?.Received.Length ?? 0;
    public int ChunksReceived => _current?.ReceivedCount ?? 0;
    public string? TargetModelVersion => _current?.Version;

    /// <summary>
    /// Starts a transfer from an offer payload. False, with the outcome to report, when the offer is
    /// malformed or its signed manifest is refused; nothing is written then. Repeating the offer of
    /// the transfer in progress is accepted and keeps its chunks.
    /// </summary>
    public bool TryAcceptOffer(ReadOnlySpan<byte> offerJson, out ModelUpdateOutcome? rejected)
    {
        if (!ModelOffer.TryRead(offerJson, out var offer, out string why))
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.TransferMalformed, why, null);
            return false;
        }
        if (_current is { } same && same.Id == offer.TransferId)
        {
            same.LastActivity = _time.GetTimestamp();
            rejected = null;
            return true;
        }
        Abandon();
        if (!_slots.TryPrecheck(offer.Manifest, offer.Signature, out var manifest, out rejected)) return false;
        string version = manifest!.ModelVersion!;
        long size = manifest.SizeBytes!.Value;
        int expectedChunks = ModelTransfer.GetChunkCount(size, offer.ChunkSizeBytes);
        if (offer.ChunkCount != expectedChunks)
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.TransferMalformed,
                $"offer announces {offer.ChunkCount} chunks but {size} bytes in {offer.ChunkSizeBytes}-byte chunks are {expectedChunks}", version);
            return false;
        }

        string path = Path.Combine(_slots.SlotDirectory(_slots.IdleSlot), ModelSlots.StagingFileName);
        FileStream file;
        try
        {
            // bufferSize 0: chunks go straight to the file, the stream holds no buffer of its own.
            file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
            file.SetLength(size);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            rejected = ModelUpdateOutcome.Fail(ModelUpdateFailure.StorageFailed, $"cannot create staging file {path}: {ex.Message}", version);
            return false;
        }
        _current = new Transfer(offer.TransferId, offer.Manifest, offer.Signature, version, size, offer.ChunkSizeBytes,
            new bool[offer.ChunkCount], file, path, _time.GetTimestamp());
        rejected = null;
        return true;
    }

    /// <summary>
    /// Takes one chunk frame. On <see cref="ChunkOutcome.Completed"/>, <paramref name="completed"/> is
    /// the assembled update (its staging file is fsynced) for <see cref="ModelSlots.TryInstall"/>.
    /// </summary>
    public ChunkOutcome AcceptChunk(ReadOnlySpan<byte> frame, out ModelUpdate? completed, out string reason)
    {
        completed = null;
        if (!ModelChunk.TryRead(frame, out ModelChunkView chunk, out reason)) return ChunkOutcome.Rejected;
        if (_current is not { } t || t.Id != chunk.TransferId)
        {
            if (chunk.TransferId == _lastCompleted && _lastCompleted != Guid.Empty)
            {
                reason = $"transfer {chunk.TransferId} is already complete";
                return ChunkOutcome.Duplicate;
            }
            reason = _current is null
                ? $"chunk of transfer {chunk.TransferId} but no transfer is in progress (offer missing, refused or expired)"
                : $"chunk of transfer {chunk.TransferId} but transfer {_current.Id} is in progress";
            return ChunkOutcome.Rejected;
        }
        int count = t.Received.Length;
        if (chunk.Total != count)
        {
            reason = $"chunk says the transfer has {chunk.Total} chunks, the offer said {count}";
            return ChunkOutcome.Rejected;
        }
        long offset = (long)chunk.Index * t.ChunkSizeBytes;
        long expectedLength = chunk.Index == count - 1 ? t.SizeBytes - offset : t.ChunkSizeBytes;
        if (chunk.Payload.Length != expectedLength)
        {
            reason = $"chunk {chunk.Index} carries {chunk.Payload.Length} bytes, expected {expectedLength}";
            return ChunkOutcome.Rejected;
        }
        t.LastActivity = _time.GetTimestamp();
        if (t.Received[chunk.Index])
        {
            reason = $"chunk {chunk.Index} already received";
            return ChunkOutcome.Duplicate;
        }
        try
        {
            t.File.Position = offset;
            t.File.Write(chunk.Payload);
            if (t.ReceivedCount + 1 == count) t.File.Flush(flushToDisk: true);
        }
        catch (IOException ex)
        {
            reason = $"cannot write chunk {chunk.Index} to {t.Path}: {ex.Message}";
            return ChunkOutcome.Rejected;
        }
        t.Received[chunk.Index] = true;
        t.ReceivedCount++;
        if (t.ReceivedCount < count)
        {
            reason = "";
            return ChunkOutcome.Stored;
        }
        t.File.Dispose();
        _current = null;
        _lastCompleted = t.Id;
        completed = ModelUpdate.FromStagedFile(t.Manifest, t.Signature, t.Path);
        reason = "";
        return ChunkOutcome.Completed;
    }

    /// <summary>
    /// Drops the transfer in progress if nothing arrived for <see cref="ModelUpdateReceiverOptions.StaleAfter"/>;
    /// true, with the outcome to report (which chunks are missing), when it did.
    /// </summary>
    public bool TryExpire(out ModelUpdateOutcome? expired)
    {
        expired = null;
        if (_current is not { } t) return false;
        TimeSpan idle = _time.GetElapsedTime(t.LastActivity);
        if (idle < _options.StaleAfter) return false;
        expired = ModelUpdateOutcome.Fail(ModelUpdateFailure.TransferTimedOut,
            $"transfer {t.Id} got {t.ReceivedCount} of {t.Received.Length} chunks, then nothing for {idle.TotalSeconds:0} s " +
            $"(limit {_options.StaleAfter.TotalSeconds:0} s); missing: {Missing(t.Received)}", t.Version);
        Abandon();
        return true;
    }

    private static string Missing(bool[] received)
    {
        var sb = new System.Text.StringBuilder();
        int listed = 0, missing = 0;
        for (int i = 0; i < received.Length; i++)
        {
            if (received[i]) continue;
            missing++;
            if (listed < 8)
            {
                if (listed > 0) sb.Append(", ");
                sb.Append(i);
                listed++;
            }
        }
        if (missing > listed) sb.Append(" and ").Append(missing - listed).Append(" more");
        return sb.ToString();
    }

    private void Abandon()
    {
        if (_current is not { } t) return;
        _current = null;
        t.File.Dispose();
        try
        {
            File.Delete(t.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Never read as a model; the next transfer or install overwrites it.
        }
    }

    public void Dispose() => Abandon();

    private sealed class Transfer(Guid id, byte[] manifest, byte[] signature, string version, long sizeBytes, int chunkSizeBytes,
        bool[] received, FileStream file, string path, long lastActivity)
    {
        public Guid Id { get; } = id;
        public byte[] Manifest { get; } = manifest;
        public byte[] Signature { get; } = signature;
        public string Version { get; } = version;
        public long SizeBytes { get; } = sizeBytes;
        public int ChunkSizeBytes { get; } = chunkSizeBytes;
        public bool[] Received { get; } = received;
        public int ReceivedCount { get; set; }
        public FileStream File { get; } = file;
        public string Path { get; } = path;
        public long LastActivity { get; set; } = lastActivity;
    }
}
