using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// The rollout's commands on a device's command topics: the signed model as a <see cref="ModelTransfer"/> offer followed by its
/// chunks, and the rollback command. Changes when the wire form of a model transfer changes.
/// </summary>
internal sealed class ModelTransferSender(Func<IDeviceCommandPublisher> publisher, ModelLoopOptions options)
{
    /// <summary>Publishes the offer (manifest, signature, chunk count) and then every chunk of the model, in order.</summary>
    public async Task SendModelAsync(string deviceId, Guid transfer, ModelPackage package, CancellationToken cancellationToken)
    {
        IDeviceCommandPublisher commands = publisher();
        int size = options.ChunkSizeBytes;
        int count = ModelTransfer.GetChunkCount(package.Model.Length, size);
        var offer = new ModelOffer { TransferId = transfer, Manifest = package.Manifest, Signature = package.Signature, ChunkCount = count, ChunkSizeBytes = size };
        await commands.PublishCommandAsync(deviceId, ModelTransfer.OfferCommand, offer.Serialize(), cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> payload = package.Model.AsSpan(i * size, Math.Min(size, package.Model.Length - (i * size)));
            var frame = new byte[ModelChunk.GetFrameSizeBytes(payload.Length)];
            ModelChunk.Write(frame, transfer, i, count, payload);
            await commands.PublishCommandAsync(deviceId, ModelTransfer.ChunkCommand, frame, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The rollback command: the device switches back to its previous slot.</summary>
    public async Task SendRollbackAsync(string deviceId, CancellationToken cancellationToken) =>
        await publisher().PublishCommandAsync(deviceId, ModelTransfer.RollbackCommand, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
}
