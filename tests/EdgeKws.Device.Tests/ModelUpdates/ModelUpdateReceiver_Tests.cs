using EdgeKws.Detection.Tests;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Tests.ModelUpdates;

public class ModelUpdateReceiver_Tests
{
    private const int ChunkSize = 200; // 1742-byte float model -> 9 chunks

    private static ModelSlots RunningInt8(ModelUpdateTestKit kit)
    {
        var slots = kit.Open();
        var outcome = slots.TryInstall(kit.Update(DetectionFixtures.Int8));
        Assert.True(outcome.Succeeded, outcome.Reason);
        return slots;
    }

    private static byte[] Offer(Guid id, byte[] manifest, byte[] signature, int chunkCount, int chunkSize = ChunkSize) =>
        new ModelOffer { TransferId = id, Manifest = manifest, Signature = signature, ChunkCount = chunkCount, ChunkSizeBytes = chunkSize }.Serialize();

    private static byte[] Chunk(Guid id, byte[] model, int index, int chunkSize = ChunkSize)
    {
        int total = ModelTransfer.GetChunkCount(model.Length, chunkSize);
        int offset = index * chunkSize;
        var payload = model.AsSpan(offset, Math.Min(chunkSize, model.Length - offset));
        var frame = new byte[ModelChunk.GetFrameSizeBytes(payload.Length)];
        Assert.Equal(frame.Length, ModelChunk.Write(frame, id, index, total, payload));
        return frame;
    }

    [Fact]
    public void Assembles_out_of_order_duplicated_chunks_and_the_update_installs()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, model) = kit.Signed(DetectionFixtures.Float);
        int count = ModelTransfer.GetChunkCount(model.Length, ChunkSize);
        Assert.Equal(9, count);
        var id = Guid.NewGuid();
        Assert.True(receiver.TryAcceptOffer(Offer(id, manifest, sig, count), out var rejected), rejected?.Reason);
        Assert.True(receiver.TryAcceptOffer(Offer(id, manifest, sig, count), out _)); // redelivered offer keeps the transfer
        Assert.Equal(Path.Combine(slots.SlotDirectory(ModelSlot.B), ModelSlots.StagingFileName),
            Directory.GetFiles(slots.SlotDirectory(ModelSlot.B)).Single());

        int[] order = [8, 3, 3, 0, 5, 8, 1, 7, 2, 6, 0];
        ModelUpdate? completed = null;
        var outcomes = new List<ChunkOutcome>();
        foreach (int i in order)
        {
            outcomes.Add(receiver.AcceptChunk(Chunk(id, model, i), out var done, out string reason));
            Assert.True(outcomes[^1] != ChunkOutcome.Rejected, reason);
            completed ??= done;
        }
        Assert.Equal([ChunkOutcome.Stored, ChunkOutcome.Stored, ChunkOutcome.Duplicate, ChunkOutcome.Stored, ChunkOutcome.Stored,
            ChunkOutcome.Duplicate, ChunkOutcome.Stored, ChunkOutcome.Stored, ChunkOutcome.Stored, ChunkOutcome.Stored, ChunkOutcome.Duplicate], outcomes);
        Assert.Equal(8, receiver.ChunksReceived);
        Assert.Null(completed);

        Assert.Equal(ChunkOutcome.Completed, receiver.AcceptChunk(Chunk(id, model, 4), out completed, out _));
        Assert.NotNull(completed);
        Assert.False(receiver.InProgress);
        Assert.Equal(model, File.ReadAllBytes(completed.StagedModelPath!));
        Assert.Equal(ChunkOutcome.Duplicate, receiver.AcceptChunk(Chunk(id, model, 2), out _, out _)); // late redelivery

        var outcome = slots.TryInstall(completed);

        Assert.True(outcome.Succeeded, outcome.Reason);
        Assert.Equal(ModelSlot.B, slots.ActiveSlot);
        Assert.False(File.Exists(completed.StagedModelPath));
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(DetectionFixtures.Float));
    }

    [Fact]
    public void Refuses_an_over_budget_offer_before_any_chunk_is_received()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, _) = kit.Signed(DetectionFixtures.Float, j => j["sizeBytes"] = 3_000_000);

        Assert.False(receiver.TryAcceptOffer(Offer(Guid.NewGuid(), manifest, sig, ModelTransfer.GetChunkCount(3_000_000, 16_384), 16_384), out var rejected));

        Assert.Equal(ModelUpdateFailure.OverBudget, rejected!.Failure);
        Assert.Contains("3000000 bytes, over the 65536-byte model budget", rejected.Reason, StringComparison.Ordinal);
        Assert.False(receiver.InProgress);
        Assert.Empty(Directory.GetFiles(slots.SlotDirectory(ModelSlot.B)));
    }

    [Fact]
    public void Refuses_an_offer_signed_with_another_key_before_any_chunk_is_received()
    {
        using var kit = new ModelUpdateTestKit();
        using var other = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, model) = other.Signed(DetectionFixtures.Float);
        var id = Guid.NewGuid();

        Assert.False(receiver.TryAcceptOffer(Offer(id, manifest, sig, ModelTransfer.GetChunkCount(model.Length, ChunkSize)), out var rejected));

        Assert.Equal(ModelUpdateFailure.SignatureInvalid, rejected!.Failure);
        Assert.Equal(ModelUpdateResult.RejectedSignature, rejected.Result);
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(Chunk(id, model, 0), out _, out string reason));
        Assert.Contains("no transfer is in progress", reason, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(slots.SlotDirectory(ModelSlot.B)));
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("{\"schemaVersion\":1,\"transferId\":\"not-a-guid\"}", "not valid JSON")]
    [InlineData("{\"schemaVersion\":1,\"transferId\":\"00000000-0000-0000-0000-000000000000\"}", "transferId is missing")]
    public void Refuses_a_malformed_offer_without_throwing(string json, string says)
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);

        Assert.False(receiver.TryAcceptOffer(System.Text.Encoding.UTF8.GetBytes(json), out var rejected));

        Assert.Equal(ModelUpdateFailure.TransferMalformed, rejected!.Failure);
        Assert.Contains(says, rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_an_offer_whose_chunk_count_does_not_cover_the_model()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, _) = kit.Signed(DetectionFixtures.Float);

        Assert.False(receiver.TryAcceptOffer(Offer(Guid.NewGuid(), manifest, sig, chunkCount: 8), out var rejected));

        Assert.Equal(ModelUpdateFailure.TransferMalformed, rejected!.Failure);
        Assert.Contains("announces 8 chunks but 1742 bytes in 200-byte chunks are 9", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Times_out_a_transfer_with_missing_chunks_and_keeps_the_old_model()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        var clock = new ManualTimeProvider();
        using var receiver = new ModelUpdateReceiver(slots, new ModelUpdateReceiverOptions { StaleAfter = TimeSpan.FromSeconds(60) }, clock);
        var (manifest, sig, model) = kit.Signed(DetectionFixtures.Float);
        var id = Guid.NewGuid();
        Assert.True(receiver.TryAcceptOffer(Offer(id, manifest, sig, 9), out _));
        for (int i = 0; i < 9; i++)
        {
            if (i is 2 or 6) continue;
            Assert.Equal(ChunkOutcome.Stored, receiver.AcceptChunk(Chunk(id, model, i), out _, out _));
        }

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.False(receiver.TryExpire(out _));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(receiver.TryExpire(out var expired));

        Assert.Equal(ModelUpdateFailure.TransferTimedOut, expired!.Failure);
        Assert.Equal(ModelUpdateResult.Failed, expired.Result);
        Assert.Contains("got 7 of 9 chunks", expired.Reason, StringComparison.Ordinal);
        Assert.Contains("missing: 2, 6", expired.Reason, StringComparison.Ordinal);
        Assert.False(receiver.InProgress);
        Assert.Empty(Directory.GetFiles(slots.SlotDirectory(ModelSlot.B)));
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(Chunk(id, model, 2), out _, out _));
        Assert.Equal(ModelSlot.A, slots.ActiveSlot);
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(DetectionFixtures.Int8));
        Assert.True(slots.TryCreateStatus("dev-1", expired, DateTimeOffset.UtcNow, out var status));
        Assert.True(status!.TryValidate(out string why), why);
    }

    [Fact]
    public void Rejects_malformed_or_mismatched_chunks_and_the_transfer_goes_on()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, model) = kit.Signed(DetectionFixtures.Float);
        var id = Guid.NewGuid();
        Assert.True(receiver.TryAcceptOffer(Offer(id, manifest, sig, 9), out _));

        byte[] good = Chunk(id, model, 0);
        byte[] badMagic = (byte[])good.Clone();
        badMagic[0] = (byte)'X';
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(badMagic, out _, out string reason));
        Assert.Contains("magic", reason, StringComparison.Ordinal);
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(good.AsSpan(0, good.Length - 1), out _, out reason));
        Assert.Contains("truncated or padded", reason, StringComparison.Ordinal);
        // Right transfer, but a 100-byte chunk where the offer's geometry says 200.
        var shortFrame = new byte[ModelChunk.GetFrameSizeBytes(100)];
        ModelChunk.Write(shortFrame, id, 1, 9, model.AsSpan(200, 100));
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(shortFrame, out _, out reason));
        Assert.Equal("chunk 1 carries 100 bytes, expected 200", reason);
        var wrongTotal = new byte[ModelChunk.GetFrameSizeBytes(200)];
        ModelChunk.Write(wrongTotal, id, 1, 10, model.AsSpan(200, 200));
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(wrongTotal, out _, out reason));
        Assert.Contains("has 10 chunks, the offer said 9", reason, StringComparison.Ordinal);
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(Chunk(Guid.NewGuid(), model, 1), out _, out reason));
        Assert.Contains("is in progress", reason, StringComparison.Ordinal);

        ModelUpdate? completed = null;
        for (int i = 0; i < 9; i++) receiver.AcceptChunk(Chunk(id, model, i), out completed, out _);
        Assert.NotNull(completed);
        Assert.True(slots.TryInstall(completed).Succeeded);
    }

    [Fact]
    public void A_chunk_altered_in_transit_is_caught_by_the_digest_and_the_old_model_keeps_running()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, model) = kit.Signed(DetectionFixtures.Float);
        var id = Guid.NewGuid();
        Assert.True(receiver.TryAcceptOffer(Offer(id, manifest, sig, 9), out _));
        ModelUpdate? completed = null;
        for (int i = 0; i < 9; i++)
        {
            byte[] frame = Chunk(id, model, i);
            if (i == 4) frame[ModelChunk.HeaderSizeBytes + 17] ^= 0x20;
            receiver.AcceptChunk(frame, out var done, out _);
            completed ??= done;
        }

        var outcome = slots.TryInstall(completed!);

        Assert.Equal(ModelUpdateFailure.ModelDigestMismatch, outcome.Failure);
        Assert.Equal(ModelUpdateResult.RejectedSignature, outcome.Result);
        Assert.Empty(Directory.GetFiles(slots.SlotDirectory(ModelSlot.B)));
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(DetectionFixtures.Int8));
    }

    [Fact]
    public void A_new_offer_abandons_the_transfer_in_progress()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        using var receiver = new ModelUpdateReceiver(slots);
        var (manifest, sig, model) = kit.Signed(DetectionFixtures.Float);
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        Assert.True(receiver.TryAcceptOffer(Offer(first, manifest, sig, 9), out _));
        Assert.Equal(ChunkOutcome.Stored, receiver.AcceptChunk(Chunk(first, model, 0), out _, out _));

        Assert.True(receiver.TryAcceptOffer(Offer(second, manifest, sig, 9), out _));

        Assert.Equal(second, receiver.TransferId);
        Assert.Equal(0, receiver.ChunksReceived);
        Assert.Equal(ChunkOutcome.Rejected, receiver.AcceptChunk(Chunk(first, model, 1), out _, out _));
    }
}
