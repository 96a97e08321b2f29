using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using Xunit.Abstractions;

namespace EdgeKws.Agent.Tests;

/// <summary>
/// The agent's model-update worker with real slots (signed seed and update, ONNX Runtime, canaries), a real pipeline and
/// a real outbox, when the pipeline's own detector of the new model cannot be built after the install succeeded (ONNX
/// Runtime failing to create a second session, as on a device short of memory): the status must say what runs.
/// </summary>
public sealed class ModelUpdateWorker_Tests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_detector_that_cannot_be_built_after_install_is_reported_as_a_failure_with_the_running_model_active()
    {
        using var kit = new AgentModelUpdateKit(_dir.Path);
        string state = AgentTestKit.StatePath(_dir.Path);
        Assert.True(ModelSlots.TryOpen(new ModelSlotsOptions { StateDirectory = state, FeatureConfigHash = MfccConfig.Default.FeatureConfigHash },
            out ModelSlots? opened, out string why), why);
        using ModelSlots slots = opened!;
        (byte[] seedManifest, byte[] seedSignature, byte[] seedModel) = kit.Signed(AgentModelUpdateKit.SeedVersion);
        Assert.True(slots.TryInstall(ModelUpdate.FromBytes(seedManifest, seedSignature, seedModel)).Succeeded);
        Assert.True(KeywordDetector.TryCreate(slots.ActiveModel!, null, out KeywordDetector? running, out why), why);

        using OutboxStore outbox = ListeningTestKit.OpenOutbox(state);
        string wav = ListeningTestKit.WriteWav(_dir.File("quiet.wav"), ListeningTestKit.Synthesize(2, []));
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        var pipeline = new ListeningPipeline(source, running!, outbox, ListeningTestKit.Options(deviceId: "dev-1"));
        var log = new List<string>();
        using (var worker = new ModelUpdateWorker(slots, pipeline, outbox, "dev-1", () => { }, null, line => { lock (log) log.Add(line); },
            _ => (null, "simulated: ONNX Runtime could not create the session")))
        {
            worker.Start();
            (byte[] manifest, byte[] signature, byte[] model) = kit.Signed("2.0.0");
            var id = Guid.NewGuid();
            const int chunkSize = 400;
            int count = ModelTransfer.GetChunkCount(model.Length, chunkSize);
            worker.Post(ModelTransfer.OfferCommand, new ModelOffer { TransferId = id, Manifest = manifest, Signature = signature, ChunkCount = count, ChunkSizeBytes = chunkSize }.Serialize());
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> chunk = model.AsSpan(i * chunkSize, Math.Min(chunkSize, model.Length - (i * chunkSize)));
                var frame = new byte[ModelChunk.GetFrameSizeBytes(chunk.Length)];
                ModelChunk.Write(frame, id, i, count, chunk);
                worker.Post(ModelTransfer.ChunkCommand, frame);
            }
            await TestWait.UntilAsync(() => Statuses(outbox).Count > 0, TimeSpan.FromMinutes(2), () => "no model status: " + string.Join(" | ", log));
        }

        ModelStatus status = Assert.Single(Statuses(outbox));
        foreach (string line in log)
            output.WriteLine(line);
        Assert.Equal(ModelUpdateResult.Failed, status.UpdateResult);
        Assert.Equal("2.0.0", status.TargetModelVersion);
        Assert.StartsWith("detector-build-failed: ", status.Reason, StringComparison.Ordinal);
        // What runs: the seed, from slot A, in the pipeline and in the status; and the slot pointer agrees again.
        Assert.Equal(AgentModelUpdateKit.SeedVersion, status.ActiveModelVersion);
        Assert.Equal(ModelSlot.A, status.ActiveSlot);
        Assert.Equal(AgentModelUpdateKit.SeedVersion, pipeline.Detector.ModelVersion);
        Assert.Equal(ModelSlot.A, slots.ActiveSlot);
        Assert.Equal(AgentModelUpdateKit.SeedVersion, slots.ActiveModelVersion);
        Assert.Contains(log, l => l.StartsWith("model status: failed, active A " + AgentModelUpdateKit.SeedVersion, StringComparison.Ordinal));
        pipeline.Detector.Dispose();
    }

    private static List<ModelStatus> Statuses(OutboxStore outbox) =>
        [.. outbox.PeekBatch(100).Where(m => m.Class == OutboxMessageClass.ModelStatus)
            .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.ModelStatus, out ModelStatus? s, out _) ? s : null!)];
}
