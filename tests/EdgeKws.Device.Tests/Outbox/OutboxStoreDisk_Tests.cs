using System.Diagnostics;
using EdgeKws.Device.Outbox;
using Xunit.Abstractions;
using static EdgeKws.Device.Tests.Outbox.OutboxTestExtensions;

namespace EdgeKws.Device.Tests.Outbox;

/// <summary>
/// The outbox on a small real filesystem (a size-limited tmpfs, so writes really fail with ENOSPC): what is stored is
/// still sent when the disk is full, new messages are stored by evicting by class, space coming back is noticed, and
/// the quota bounds the files on disk under a write storm. Skipped, with the reason, only where a tmpfs cannot be mounted.
/// </summary>
public sealed class OutboxStoreDisk_Tests(ITestOutputHelper output)
{
    private const string Topic = "edgekws/v1/dev-1/x";

    [SkippableFact]
    public void Full_disk_still_sends_what_is_stored_evicts_by_class_for_new_messages_and_recovers_when_space_returns()
    {
        using SmallFilesystem fs = MountOrSkip(4L << 20);
        var log = new List<string>();
        using var store = OutboxStore.Open(new OutboxOptions
        {
            DatabasePath = Path.Combine(fs.Path, "outbox.db"),
            QuotaBytes = 1L << 20,
            Log = line => { lock (log) log.Add(line); },
        });
        Assert.True(File.Exists(store.DatabasePath + "-reserve"));

        // Clips first (lowest class), then detections: what a device holds after a while with the gateway away.
        var stored = new List<long>();
        for (int i = 0; i < 12; i++)
            stored.Add(Accepted(store.Enqueue(OutboxMessageClass.ClipFeatures, Topic, Payload(i, 8_000))));
        for (int i = 0; i < 40; i++)
            stored.Add(Accepted(store.Enqueue(OutboxMessageClass.Detection, Topic, Payload(100 + i, 300))));

        long filler = fs.Fill();
        output.WriteLine($"filled the disk with {filler} bytes; {fs.AvailableBytes} bytes free");

        // Sending needs no write: everything stored is handed out, in order, although nothing can be written.
        Assert.Equal(stored, store.PeekBatch(1000).Select(m => m.Sequence));

        // New detections: the disk is full, so the store releases its reserve and evicts clips (lowest class) for them.
        var fresh = new List<long>();
        for (int i = 0; i < 30; i++)
        {
            EnqueueResult r = store.Enqueue(OutboxMessageClass.Detection, Topic, Payload(200 + i, 300));
            Assert.True(r.IsAccepted, $"detection {i} on the full disk: {r.Status}");
            fresh.Add(r.Sequence);
        }
        Assert.True(store.IsDiskFull);
        Assert.False(File.Exists(store.DatabasePath + "-reserve"));
        Assert.Contains(log, l => l.Contains("the disk is full", StringComparison.Ordinal));
        OutboxStats stats = store.GetStats();
        Assert.True(stats.DiskFull);
        Assert.True(stats.For(OutboxMessageClass.ClipFeatures).EvictedCount > 0, "clips were evicted for the detections");
        Assert.Equal(0, stats.For(OutboxMessageClass.Detection).EvictedCount);
        Assert.Equal(70, stats.For(OutboxMessageClass.Detection).Count);

        // Acknowledging on the full disk works (the message is not sent again), whether or not the delete could be written.
        IReadOnlyList<OutboxMessage> batch = store.PeekBatch(1000);
        Assert.Equal(batch.Select(m => m.Sequence).Order(), batch.Select(m => m.Sequence));
        Assert.Equal(stored.Where(s => batch.Any(m => m.Sequence == s)).Concat(fresh), batch.Select(m => m.Sequence));
        long[] firstTen = batch.Take(10).Select(m => m.Sequence).ToArray();
        Assert.Equal(10, store.Acknowledge(firstTen));
        Assert.Equal(batch.Skip(10).Select(m => m.Sequence), store.PeekBatch(1000).Select(m => m.Sequence));

        // Nothing lower is left to evict for a clip once only detections remain: refused, counted as failed.
        EnqueueResult clip;
        int tries = 0;
        do
        {
            clip = store.Enqueue(OutboxMessageClass.ClipFeatures, Topic, Payload(7, 60_000));
        }
        while (clip.IsAccepted && ++tries < 50);
        Assert.Equal(EnqueueStatus.RefusedDiskFull, clip.Status);
        Assert.True(store.GetStats().For(OutboxMessageClass.ClipFeatures).FailedCount >= 1);

        // Space comes back: the next writes notice it (at most every 2 s), re-allocate the reserve and say so.
        fs.Unfill();
        var sw = Stopwatch.StartNew();
        while (store.IsDiskFull && sw.Elapsed < TimeSpan.FromMinutes(2))
        {
            Accepted(store.Enqueue(OutboxMessageClass.Heartbeat, Topic, Payload(9, 200)));
            Thread.Sleep(100);
        }
        Assert.False(store.IsDiskFull);
        Assert.True(File.Exists(store.DatabasePath + "-reserve"));
        Assert.Contains(log, l => l.Contains("disk space is back", StringComparison.Ordinal));
        Assert.True(store.Enqueue(OutboxMessageClass.ClipFeatures, Topic, Payload(8, 60_000)).IsAccepted);
        Assert.Equal("ok", store.CheckIntegrity());
        foreach (string line in log)
            output.WriteLine(line);
    }

    [SkippableFact]
    public void Full_disk_keeps_acknowledged_messages_out_of_later_batches_and_deletes_them_when_it_can()
    {
        using SmallFilesystem fs = MountOrSkip(2L << 20);
        string db = Path.Combine(fs.Path, "outbox.db");
        var sequences = new List<long>();
        using (var store = OutboxStore.Open(new OutboxOptions { DatabasePath = db, QuotaBytes = 1L << 20 }))
        {
            for (int i = 0; i < 200; i++)
                sequences.Add(Accepted(store.Enqueue(OutboxMessageClass.Detection, Topic, Payload(i, 1000))));

            // The reserve goes first; then the filler takes the rest, so even the reserve cannot help the deletes.
            File.Delete(db + "-reserve");
            fs.Fill();
            int acked = 0;
            while (acked < sequences.Count)
            {
                IReadOnlyList<OutboxMessage> batch = store.PeekBatch(25);
                Assert.Equal(sequences.Skip(acked).Take(25), batch.Select(m => m.Sequence));
                foreach (OutboxMessage m in batch)
                    Assert.True(store.Acknowledge(m.Sequence));
                acked += batch.Count;
            }
            Assert.Empty(store.PeekBatch(100));
            Assert.Equal(0, store.GetStats().TotalCount);
            output.WriteLine($"pending deletes on the full disk: {store.GetStats().PendingDeletes}");

            fs.Unfill();
            Assert.True(store.Enqueue(OutboxMessageClass.Heartbeat, Topic, Payload(1, 100)).IsAccepted);
            Assert.Equal(0, store.GetStats().PendingDeletes);
        }

        using var reopened = OutboxStore.Open(new OutboxOptions { DatabasePath = db, QuotaBytes = 1L << 20 });
        Assert.Single(reopened.PeekBatch(100)); // the heartbeat: every acknowledged detection is deleted for good
    }

    [SkippableTheory]
    [InlineData(256L * 1024, false)]
    [InlineData(1L << 20, false)]
    [InlineData(4L << 20, false)]
    [InlineData(256L * 1024, true)]
    [InlineData(1L << 20, true)]
    public void Quota_bounds_the_files_on_disk_under_a_write_storm(long quota, bool pageCapOnly)
    {
        // A filesystem far larger than the quota that holds nothing but the outbox: its used bytes are the outbox's files.
        // pageCapOnly: a data quota far above the budget's, so the database's page cap alone holds the files (the
        // net behind the byte count, which normally acts first).
        using SmallFilesystem fs = MountOrSkip(64L << 20);
        long baseline = fs.UsedBytes;
        using var store = OutboxStore.Open(new OutboxOptions
        {
            DatabasePath = Path.Combine(fs.Path, "outbox.db"),
            QuotaBytes = quota,
            DataQuotaBytesOverride = pageCapOnly ? quota * 10 : null,
        });
        OutboxBudget budget = store.Budget;

        long peak = 0, peakDb = 0, peakWal = 0;
        using var stop = new CancellationTokenSource();
        var sampler = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                long used = fs.UsedBytes - baseline;
                if (used > Interlocked.Read(ref peak))
                    Interlocked.Exchange(ref peak, used);
            }
        })
        { IsBackground = true, Priority = ThreadPriority.AboveNormal };
        sampler.Start();

        var random = new Random(17);
        int accepted = 0, refused = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 3000; i++)
        {
            // The agent's mix, with the gateway away: detections, heartbeats, sketches, feature and audio clips up to the largest message.
            (OutboxMessageClass cls, int bytes) = random.Next(10) switch
            {
                0 or 1 or 2 => (OutboxMessageClass.Detection, 300),
                3 or 4 => (OutboxMessageClass.Heartbeat, 1500),
                5 => (OutboxMessageClass.Sketch, 5000),
                6 or 7 => (OutboxMessageClass.ClipFeatures, 10_000),
                _ => (OutboxMessageClass.ClipAudio, random.Next(1000, (int)budget.MaxMessageBytes - 200)),
            };
            EnqueueResult r = store.Enqueue(cls, Topic, Payload(i, Math.Min(bytes, (int)budget.MaxMessageBytes - 200)));
            if (r.IsAccepted) accepted++; else refused++;
            if (i % 7 == 0)
            {
                // Now and then the link is up for a moment: a few messages go out.
                IReadOnlyList<OutboxMessage> batch = store.PeekBatch(3);
                store.Acknowledge(batch.Select(m => m.Sequence).ToArray());
            }
            long used = fs.UsedBytes - baseline;
            if (used > Interlocked.Read(ref peak))
                Interlocked.Exchange(ref peak, used);
            peakDb = Math.Max(peakDb, new FileInfo(store.DatabasePath).Length);
            peakWal = Math.Max(peakWal, File.Exists(store.DatabasePath + "-wal") ? new FileInfo(store.DatabasePath + "-wal").Length : 0);
        }
        stop.Cancel();
        sampler.Join();

        OutboxStats stats = store.GetStats();
        output.WriteLine($"quota {quota} B{(pageCapOnly ? " (page cap only)" : "")}: peak on disk {peak} B ({100.0 * peak / quota:F1} % of the quota), database peak {peakDb} B (cap {budget.DatabaseMaxBytes}), " +
            $"WAL peak {peakWal} B (max {budget.WalMaxBytes}), reserve {budget.ReserveBytes} B; {accepted} accepted, {refused} refused, " +
            $"{stats.PerClass.Sum(c => c.EvictedCount)} evicted, {stats.TotalBytes} B of messages stored (data quota {budget.DataQuotaBytes}), {sw.Elapsed.TotalSeconds:F1} s");
        Assert.True(accepted > 1000, $"only {accepted} of 3000 accepted");
        Assert.True(stats.PerClass.Sum(c => c.EvictedCount) > 100, "the storm never filled the store");
        Assert.True(peak <= quota, $"the outbox occupied {peak} bytes on disk, over its quota of {quota}");
        Assert.True(peakDb <= budget.DatabaseMaxBytes);
        Assert.Equal("ok", store.CheckIntegrity());
        Assert.False(stats.DiskFull);
    }

    private static long Accepted(EnqueueResult r)
    {
        Assert.True(r.IsAccepted, $"enqueue was {r.Status}");
        return r.Sequence;
    }

    private static SmallFilesystem MountOrSkip(long bytes)
    {
        SmallFilesystem? fs = SmallFilesystem.TryMount(bytes, out string whyNot);
        Skip.If(fs is null, $"needs a small real filesystem and this machine cannot mount one: {whyNot}");
        return fs!;
    }
}
