using EdgeKws.Acoustics;
using EdgeKws.Corpus.FarField;

namespace EdgeKws.Corpus.Tests.FarField;

/// <summary>The third of each split's room bank that comes from sox's reverb (<see cref="RoomChannel"/>): its impulse responses, captured
/// from real sox, decay as their parameters say, and the room class a clip is tagged with is the RT60 measured on the response it was
/// convolved with.</summary>
public sealed class SoxReverbRooms_Tests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "edgekws-soxrooms-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task More_reverberance_gives_a_longer_measured_rt60_and_the_response_keeps_the_direct_path_at_unity()
    {
        var rt60 = new List<double>();
        foreach (int reverberance in new[] { 20, 50, 90 })
        {
            float[] ir = await RoomChannel.SoxReverbImpulseAsync(reverberance, damping: 50, scale: 100, Path.Combine(_dir, $"r{reverberance}"), CancellationToken.None);
            Assert.Equal(1f, ir[0]);
            rt60.Add(ReverberationTime.EstimateRt60Seconds(ir, CorpusGenerator.SampleRateHz));
        }
        Assert.True(rt60[0] < rt60[1] && rt60[1] < rt60[2], "RT60 " + string.Join(", ", rt60.Select(t => t.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture))));
        // Measured here (sox 14.4.2): 0.57 s at 20 %, 4.8 s at 90 % (the response is cut after 3 s; the Schroeder fit extrapolates).
        Assert.True(rt60[2] >= 3 * rt60[0], $"reverberance 90 gives {rt60[2]:0.000} s, 20 gives {rt60[0]:0.000} s: less than three times");
        Assert.InRange(rt60[0], 0.2, 1.5);
        Assert.InRange(rt60[2], 2.0, 8.0);
        Assert.Empty(Directory.GetFiles(_dir)); // sox's temporary files are removed
    }

    [Fact]
    public async Task Each_sox_room_of_a_bank_is_tagged_with_the_rt60_measured_on_its_own_response()
    {
        RoomChannel channel = await RoomChannel.CreateAsync(seed: 11, "test", count: 12, dryFraction: 0, _dir, CancellationToken.None);
        RoomDraw[] sox = [.. channel.Rooms.Where(r => r.Id.Contains("/sox-reverb-", StringComparison.Ordinal))];
        Assert.Equal(4, sox.Length); // a third of the bank
        foreach (RoomDraw room in sox)
        {
            Assert.NotNull(room.ImpulseResponse);
            Assert.Equal(1f, room.ImpulseResponse![0]);
            double measured = ReverberationTime.EstimateRt60Seconds(room.ImpulseResponse, CorpusGenerator.SampleRateHz);
            Assert.Equal(measured, room.Rt60Seconds!.Value, 9);
            Assert.Equal(RoomDraw.ClassOf(measured), room.Class);
        }
    }
}
