using EdgeKws.Shared.Diagnostics;

namespace EdgeKws.Shared.Tests.Diagnostics;

// The meter behind every "allocates nothing" assertion must still see a real allocation: it takes the
// smallest of several readings, so an allocation that repeats on every run has to survive that.
public sealed class AllocationMeter_Tests
{
    [Fact]
    public void Reports_an_allocation_that_happens_on_every_run()
    {
        byte[]? kept = null;
        long allocated = AllocationMeter.BytesAllocated(() => kept = new byte[1000]);
        GC.KeepAlive(kept);
        Assert.Equal(1024, allocated); // 1,000 bytes + the array's 24-byte header on 64-bit
    }

    [Fact]
    public void Runs_prepare_before_each_measurement_and_outside_it()
    {
        int prepared = 0;
        int measured = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () => { prepared++; _ = new byte[4096].Length; },
            measured: () => measured++);
        Assert.Equal(0, allocated);
        Assert.Equal(1, prepared); // a zero reading is believed at once
        Assert.Equal(1, measured);
    }
}
