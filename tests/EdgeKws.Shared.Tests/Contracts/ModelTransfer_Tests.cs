using System.Text;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Tests.Contracts;

public class ModelTransfer_Tests
{
    private static readonly Guid Id = Guid.Parse("0f8b2a6e-3c1d-4e5f-9a7b-1c2d3e4f5a6b");

    private static ModelOffer Offer(int chunkCount = 9, int chunkSize = 200, int signatureBytes = 64) => new()
    {
        TransferId = Id,
        Manifest = Encoding.UTF8.GetBytes("{\"schemaVersion\":1}"),
        Signature = Enumerable.Range(0, signatureBytes).Select(i => (byte)i).ToArray(),
        ChunkCount = chunkCount,
        ChunkSizeBytes = chunkSize,
    };

    [Fact]
    public void Offer_round_trips_with_base64_bytes_and_camel_case_names()
    {
        byte[] json = Offer().Serialize();
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains("\"transferId\":\"0f8b2a6e-3c1d-4e5f-9a7b-1c2d3e4f5a6b\"", text, StringComparison.Ordinal);
        Assert.Contains("\"manifest\":\"" + Convert.ToBase64String(Offer().Manifest) + "\"", text, StringComparison.Ordinal);
        Assert.Contains("\"chunkCount\":9", text, StringComparison.Ordinal);

        Assert.True(ModelOffer.TryRead(json, out var back, out string reason), reason);
        Assert.Equal(Id, back.TransferId);
        Assert.Equal(Offer().Signature, back.Signature);
        Assert.Equal(json, back.Serialize());
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "not valid JSON")]
    [InlineData("{\"schemaVersion\":1,\"manifest\":\"***\"}", "not valid JSON")]
    [InlineData("{\"schemaVersion\":2}", "schemaVersion 2 is not supported")]
    [InlineData("{\"schemaVersion\":1,\"transferId\":\"0f8b2a6e-3c1d-4e5f-9a7b-1c2d3e4f5a6b\"}", "manifest is missing")]
    [InlineData("{\"schemaVersion\":1,\"transferId\":\"0f8b2a6e-3c1d-4e5f-9a7b-1c2d3e4f5a6b\",\"manifest\":\"e30=\"}", "signature is 0 bytes, expected 64")]
    public void Offer_read_refuses_bad_payloads_by_field_without_throwing(string json, string says)
    {
        Assert.False(ModelOffer.TryRead(Encoding.UTF8.GetBytes(json), out _, out string reason));
        Assert.Contains(says, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Offer_validation_names_each_out_of_range_field()
    {
        Assert.False(Offer(signatureBytes: 70).TryValidate(out string r));
        Assert.Contains("signature is 70 bytes", r, StringComparison.Ordinal);
        Assert.False(Offer(chunkCount: 0).TryValidate(out r));
        Assert.Contains("chunkCount 0", r, StringComparison.Ordinal);
        Assert.False(Offer(chunkCount: ModelTransfer.MaxChunkCount + 1).TryValidate(out r));
        Assert.False(Offer(chunkSize: ModelTransfer.MaxChunkPayloadBytes + 1).TryValidate(out r));
        Assert.Contains("chunkSizeBytes", r, StringComparison.Ordinal);
        var big = new ModelOffer { TransferId = Id, Manifest = new byte[ModelTransfer.MaxManifestBytes + 1], Signature = new byte[64], ChunkCount = 1, ChunkSizeBytes = 1 };
        Assert.False(big.TryValidate(out r));
        Assert.Contains("manifest is 8193 bytes", r, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunk_round_trips_and_lays_out_the_header_as_documented()
    {
        byte[] payload = [1, 2, 3, 4, 5];
        var frame = new byte[ModelChunk.GetFrameSizeBytes(payload.Length)];
        Assert.Equal(41, ModelChunk.Write(frame, Id, 3, 9, payload));
        Assert.Equal("EKWM"u8.ToArray(), frame[..4]);
        Assert.Equal(3, BitConverter.ToInt32(frame, 24));
        Assert.Equal(9, BitConverter.ToInt32(frame, 28));
        Assert.Equal(5, BitConverter.ToInt32(frame, 32));

        Assert.True(ModelChunk.TryRead(frame, out var chunk, out string reason), reason);
        Assert.Equal(Id, chunk.TransferId);
        Assert.Equal(3, chunk.Index);
        Assert.Equal(9, chunk.Total);
        Assert.Equal(payload, chunk.Payload.ToArray());
    }

    [Fact]
    public void Chunk_read_refuses_each_bad_field_by_name()
    {
        var frame = new byte[ModelChunk.GetFrameSizeBytes(4)];
        ModelChunk.Write(frame, Id, 1, 2, [9, 9, 9, 9]);

        static string Fails(byte[] f)
        {
            Assert.False(ModelChunk.TryRead(f, out _, out string reason));
            return reason;
        }
        static byte[] With(byte[] f, int at, params byte[] bytes)
        {
            byte[] c = (byte[])f.Clone();
            bytes.CopyTo(c, at);
            return c;
        }
        Assert.Contains("shorter than the 36-byte header", Fails(frame[..35]), StringComparison.Ordinal);
        Assert.Contains("magic", Fails(With(frame, 0, (byte)'X')), StringComparison.Ordinal);
        Assert.Contains("schemaVersion 7", Fails(With(frame, 4, 7, 0)), StringComparison.Ordinal);
        Assert.Contains("header length is 40", Fails(With(frame, 6, 40, 0)), StringComparison.Ordinal);
        Assert.Contains("empty transfer id", Fails(With(frame, 8, new byte[16])), StringComparison.Ordinal);
        Assert.Contains("index 2 is not below the chunk count 2", Fails(With(frame, 24, 2)), StringComparison.Ordinal);
        Assert.Contains("total 0", Fails(With(frame, 28, 0)), StringComparison.Ordinal);
        Assert.Contains("payload length 0", Fails(With(frame, 32, 0)), StringComparison.Ordinal);
        Assert.Contains("truncated or padded", Fails([.. frame, 0]), StringComparison.Ordinal);
    }

    [Fact]
    public void Readers_never_throw_on_random_bytes()
    {
        var rng = new Random(1234);
        for (int i = 0; i < 20_000; i++)
        {
            var junk = new byte[rng.Next(0, 120)];
            rng.NextBytes(junk);
            if (i % 2 == 0 && junk.Length >= 4) "EKWM"u8.CopyTo(junk);
            _ = ModelChunk.TryRead(junk, out _, out _);
            _ = ModelOffer.TryRead(junk, out _, out _);
        }
    }

    [Fact]
    public void Chunk_count_covers_the_model_exactly()
    {
        Assert.Equal(1, ModelTransfer.GetChunkCount(1, 16_384));
        Assert.Equal(9, ModelTransfer.GetChunkCount(1742, 200));
        Assert.Equal(4, ModelTransfer.GetChunkCount(65_536, 16_384));
        Assert.Equal("edgekws/v1/dev-1/cmd/model-offer", Topics.Command("dev-1", ModelTransfer.OfferCommand));
        Assert.Equal("edgekws/v1/dev-1/cmd/model-chunk", Topics.Command("dev-1", ModelTransfer.ChunkCommand));
    }
}
