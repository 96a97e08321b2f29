using EdgeKws.Device.Outbox;
using static EdgeKws.Device.Tests.Outbox.OutboxTestExtensions;

namespace EdgeKws.Device.Tests.Outbox;

public sealed class OutboxStore_Tests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // The policy tests fill a 64 KiB data quota byte by byte with messages of up to 60 KB. The real budget caps a message
    // at a sixteenth of the disk quota, about a sixth of its data quota (OutboxBudget), so these tests keep a 1 MiB disk
    // quota (messages up to 64 KiB) and set the data quota directly.
    private const long PolicyDataQuota = 64L * 1024;

    private OutboxStore Open(long? dataQuotaBytes = null, TimeProvider? clock = null,
        IReadOnlyDictionary<OutboxMessageClass, TimeSpan>? ttl = null, Action<string>? log = null) =>
        OutboxStore.Open(new OutboxOptions
        {
            DatabasePath = _dir.File("outbox.db"),
            QuotaBytes = dataQuotaBytes is null ? OutboxOptions.DefaultQuotaBytes : 1L << 20,
            DataQuotaBytesOverride = dataQuotaBytes,
            Clock = clock ?? new ManualClock(T0),
            TimeToLive = ttl,
            Log = log,
        });

    [Fact]
    public void Peeks_oldest_first_in_sequence_order_and_deletes_only_what_is_acknowledged()
    {
        using var store = Open();
        var classes = new[] { OutboxMessageClass.Heartbeat, OutboxMessageClass.Detection, OutboxMessageClass.Sketch, OutboxMessageClass.Detection, OutboxMessageClass.ClipAudio };
        for (int i = 0; i < classes.Length; i++)
        {
            var r = store.Enqueue(classes[i], $"edgekws/dev1/{i}", Payload(i, 100 + i));
            Assert.Equal(EnqueueStatus.Accepted, r.Status);
            Assert.Equal(i + 1, r.Sequence);
            Assert.Equal(OutboxStore.AccountedSize($"edgekws/dev1/{i}", 100 + i), r.SizeBytes);
        }

        var first = store.PeekBatch(3);
        Assert.Equal([1L, 2, 3], first.Select(m => m.Sequence));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(classes[i], first[i].Class);
            Assert.Equal($"edgekws/dev1/{i}", first[i].Topic);
            Assert.Equal(Payload(i, 100 + i), first[i].Payload);
            Assert.Equal(T0, first[i].CreatedUtc);
            Assert.Equal(OutboxStore.AccountedSize(first[i].Topic, 100 + i), first[i].SizeBytes);
            Assert.Equal(1, first[i].AttemptCount);
        }

        Assert.True(store.Acknowledge(2));
        Assert.False(store.Acknowledge(2)); // a duplicate PUBACK is harmless
        var second = store.PeekBatch(10);
        Assert.Equal([1L, 3, 4, 5], second.Select(m => m.Sequence));
        Assert.Equal([2, 2, 1, 1], second.Select(m => m.AttemptCount));

        Assert.Equal(3, store.Acknowledge([1L, 3, 4, 99]));
        Assert.Equal([5L], store.PeekBatch(10).Select(m => m.Sequence));
    }

    [Fact]
    public void Peek_stops_at_max_bytes_but_always_returns_the_first_message()
    {
        using var store = Open();
        store.Enqueue(OutboxMessageClass.ClipAudio, "a", Payload(1, 5000));
        store.Enqueue(OutboxMessageClass.Detection, "d", Payload(2, 100));
        store.Enqueue(OutboxMessageClass.Detection, "d", Payload(3, 100));

        Assert.Equal([1L], store.PeekBatch(10, maxBytes: 1000).Select(m => m.Sequence));
        store.Acknowledge(1);
        int oneDetection = OutboxStore.AccountedSize("d", 100);
        Assert.Equal([2L], store.PeekBatch(10, maxBytes: oneDetection * 2 - 1).Select(m => m.Sequence));
        Assert.Equal([2L, 3], store.PeekBatch(10, maxBytes: oneDetection * 2).Select(m => m.Sequence));
    }

    [Fact]
    public void Sequence_survives_reopen_and_is_never_reused_after_everything_is_acknowledged()
    {
        using (var store = Open())
        {
            for (int i = 0; i < 3; i++)
                store.Enqueue(OutboxMessageClass.Detection, "d", Payload(i, 10));
            Assert.Equal(3, store.Acknowledge([1L, 2, 3]));
            Assert.Equal(0, store.GetStats().TotalCount);
        }

        using (var store = Open())
        {
            Assert.Equal(4, store.GetStats().NextSequence);
            Assert.Equal(4, store.Enqueue(OutboxMessageClass.Heartbeat, "h", Payload(9, 10)).Sequence);
        }

        using (var store = Open())
            Assert.Equal(5, store.Enqueue(OutboxMessageClass.Heartbeat, "h", Payload(9, 10)).Sequence);
    }

    [Fact]
    public void Full_quota_evicts_in_the_documented_class_order_and_keeps_accepting()
    {
        const long quota = PolicyDataQuota; // 64 KiB
        const int payloadBytes = 1000;
        using var store = Open(quota);
        int size = OutboxStore.AccountedSize("t", payloadBytes);

        // 7 of every class (8 classes: 56 messages fit the quota), interleaved so that sequence order alone cannot explain the evictions.
        var byClass = new Dictionary<OutboxMessageClass, List<long>>();
        for (int round = 0; round < 7; round++)
        {
            foreach (var cls in OutboxPolicy.AllClasses)
            {
                var r = store.Enqueue(cls, "t", Payload(round, payloadBytes));
                Assert.Equal(EnqueueStatus.Accepted, r.Status);
                Assert.Equal(0, r.EvictedMessages);
                (byClass.TryGetValue(cls, out var l) ? l : byClass[cls] = []).Add(r.Sequence);
            }
        }

        var expectedOrder = new List<long>();
        foreach (var cls in OutboxPolicy.EvictionOrder)
        {
            var seqs = byClass[cls];
            // The newest heartbeat carries the cumulative totals: it is kept while detections remain.
            expectedOrder.AddRange(cls == OutboxMessageClass.Heartbeat ? seqs.Take(seqs.Count - 1) : seqs);
        }

        var evictedOrder = new List<long>();
        var stored = store.PeekAll().Select(m => m.Sequence).ToHashSet();
        while (evictedOrder.Count < expectedOrder.Count)
        {
            var r = store.Enqueue(OutboxMessageClass.Detection, "t", Payload(1, payloadBytes));
            Assert.Equal(EnqueueStatus.Accepted, r.Status);
            var now = store.PeekAll().Select(m => m.Sequence).ToHashSet();
            var gone = stored.Where(s => !now.Contains(s)).Order().ToList();
            Assert.Equal(r.EvictedMessages, gone.Count);
            evictedOrder.AddRange(gone);
            stored = now;
            Assert.True(store.GetStats().TotalBytes <= quota);
        }

        Assert.Equal(expectedOrder, evictedOrder);
        Assert.Contains(byClass[OutboxMessageClass.Heartbeat][^1], stored);

        var stats = store.GetStats();
        foreach (var cls in OutboxPolicy.AllClasses)
        {
            long expectedEvicted = cls switch
            {
                OutboxMessageClass.Heartbeat => 6,
                _ => 7,
            };
            Assert.Equal(expectedEvicted, stats.For(cls).EvictedCount);
            Assert.Equal(expectedEvicted * size, stats.For(cls).EvictedBytes);
        }

        Assert.Equal(stats.TotalBytes, stats.PerClass.Sum(c => c.Bytes));
        Assert.Equal(stats.TotalCount, stored.Count);
    }

    [Fact]
    public void Lower_priority_message_is_refused_rather_than_evicting_detections()
    {
        const long quota = PolicyDataQuota;
        using var store = Open(quota);
        int count = 0;
        while (store.GetStats().TotalBytes + OutboxStore.AccountedSize("d", 1000) <= quota)
        {
            store.Enqueue(OutboxMessageClass.Detection, "d", Payload(count++, 1000));
        }

        var clip = store.Enqueue(OutboxMessageClass.ClipAudio, "a", Payload(1, 8000));
        var heartbeat = store.Enqueue(OutboxMessageClass.Heartbeat, "h", Payload(1, 8000));

        Assert.Equal(EnqueueStatus.RefusedQuotaFull, clip.Status);
        Assert.Equal(EnqueueStatus.RefusedQuotaFull, heartbeat.Status);
        var stats = store.GetStats();
        Assert.Equal(count, stats.For(OutboxMessageClass.Detection).Count);
        Assert.Equal(0, stats.For(OutboxMessageClass.Detection).EvictedCount);
        Assert.Equal(1, stats.For(OutboxMessageClass.ClipAudio).RefusedCount);
        Assert.Equal(1, stats.For(OutboxMessageClass.Heartbeat).RefusedCount);
        Assert.Equal(count + 1, stats.NextSequence); // refusals consume no sequence
    }

    [Fact]
    public void Near_misses_go_first_and_never_push_out_a_trigger_clip()
    {
        const long quota = PolicyDataQuota;
        using var store = Open(quota);
        long nearMiss = store.Enqueue(OutboxMessageClass.NearMiss, "n", Payload(1, 20_000)).Sequence;
        long clip = store.Enqueue(OutboxMessageClass.ClipAudio, "a", Payload(2, 20_000)).Sequence;
        store.Enqueue(OutboxMessageClass.ClipFeatures, "f", Payload(3, 20_000));

        // A trigger clip that needs room takes it from the older near miss, not from the older clips.
        var clip2 = store.Enqueue(OutboxMessageClass.ClipAudio, "a", Payload(4, 10_000));
        Assert.Equal(1, clip2.EvictedMessages);
        Assert.DoesNotContain(nearMiss, store.PeekAll().Select(m => m.Sequence));
        Assert.Contains(clip, store.PeekAll().Select(m => m.Sequence));

        // A new near miss may evict only near misses: with none left it is refused, and nothing else goes.
        var refused = store.Enqueue(OutboxMessageClass.NearMiss, "n", Payload(5, 20_000));
        Assert.Equal(EnqueueStatus.RefusedQuotaFull, refused.Status);
        OutboxStats stats = store.GetStats();
        Assert.Equal((1L, 1L, 0L), (stats.For(OutboxMessageClass.NearMiss).EvictedCount, stats.For(OutboxMessageClass.NearMiss).RefusedCount,
            stats.For(OutboxMessageClass.ClipAudio).EvictedCount));
        Assert.Equal(0, OutboxPolicy.RetentionRank(OutboxMessageClass.NearMiss));
        Assert.Equal(OutboxMessageClass.NearMiss, OutboxPolicy.EvictionOrder[0]);
    }

    [Fact]
    public void Newest_heartbeat_is_evicted_only_when_nothing_else_remains()
    {
        const long quota = PolicyDataQuota;
        using var store = Open(quota);
        long hb = store.Enqueue(OutboxMessageClass.Heartbeat, "h", Payload(1, 40_000)).Sequence;
        long sketch = store.Enqueue(OutboxMessageClass.Sketch, "s", Payload(2, 10_000)).Sequence;

        // Needs the sketch's room only: the heartbeat stays.
        var d1 = store.Enqueue(OutboxMessageClass.Detection, "d", Payload(3, 20_000));
        Assert.Equal(1, d1.EvictedMessages);
        Assert.Equal([hb, d1.Sequence], store.PeekAll().Select(m => m.Sequence));

        // Now only a detection and the newest heartbeat are left: the old detection goes first.
        var d2 = store.Enqueue(OutboxMessageClass.Detection, "d", Payload(4, 20_000));
        Assert.Equal([hb, d2.Sequence], store.PeekAll().Select(m => m.Sequence));

        // Nothing else left: the heartbeat is the last resort.
        var d3 = store.Enqueue(OutboxMessageClass.Detection, "d", Payload(5, 60_000));
        Assert.Equal(EnqueueStatus.Accepted, d3.Status);
        Assert.Equal([d3.Sequence], store.PeekAll().Select(m => m.Sequence));
        var stats = store.GetStats();
        Assert.Equal(1, stats.For(OutboxMessageClass.Heartbeat).EvictedCount);
        Assert.Equal(2, stats.For(OutboxMessageClass.Detection).EvictedCount);
        Assert.Equal(1, stats.For(OutboxMessageClass.Sketch).EvictedCount);
        Assert.NotEqual(0, sketch);
    }

    [Fact]
    public void Expired_messages_are_dropped_unsent_and_counted_persistently()
    {
        var clock = new ManualClock(T0);
        var ttl = new Dictionary<OutboxMessageClass, TimeSpan> { [OutboxMessageClass.Sketch] = TimeSpan.FromMinutes(5) };
        using (var store = Open(clock: clock, ttl: ttl))
        {
            store.Enqueue(OutboxMessageClass.ClipAudio, "a", Payload(1, 300));   // default TTL 1 day
            store.Enqueue(OutboxMessageClass.Sketch, "s", Payload(2, 200));      // overridden: 5 min
            store.Enqueue(OutboxMessageClass.Detection, "d", Payload(3, 100));   // 30 days

            clock.Advance(TimeSpan.FromMinutes(6));
            Assert.Equal([1L, 3], store.PeekBatch(10).Select(m => m.Sequence));
            Assert.Equal(T0 + TimeSpan.FromDays(1), store.PeekBatch(1)[0].ExpiresUtc);

            clock.Advance(TimeSpan.FromDays(1));
            Assert.Equal([3L], store.PeekBatch(10).Select(m => m.Sequence));
        }

        using (var store = Open(clock: clock, ttl: ttl))
        {
            var stats = store.GetStats();
            Assert.Equal(1, stats.For(OutboxMessageClass.Sketch).ExpiredCount);
            Assert.Equal(OutboxStore.AccountedSize("s", 200), stats.For(OutboxMessageClass.Sketch).ExpiredBytes);
            Assert.Equal(1, stats.For(OutboxMessageClass.ClipAudio).ExpiredCount);
            Assert.Equal(0, stats.For(OutboxMessageClass.Detection).ExpiredCount);
            Assert.Equal(1, stats.TotalCount);

            clock.Advance(TimeSpan.FromDays(30));
            Assert.Equal(1, store.PurgeExpired());
            Assert.Empty(store.PeekBatch(10));
            Assert.Equal(1, store.GetStats().For(OutboxMessageClass.Detection).ExpiredCount);
        }
    }

    [Fact]
    public void Message_larger_than_the_quota_is_refused_with_a_result_and_counted()
    {
        const long quota = PolicyDataQuota;
        using var store = Open(quota);
        store.Enqueue(OutboxMessageClass.Detection, "d", Payload(1, 100));

        for (int i = 0; i < 50; i++)
        {
            var r = store.Enqueue(OutboxMessageClass.ClipAudio, "a", new byte[quota]);
            Assert.Equal(EnqueueStatus.RefusedTooLarge, r.Status);
            Assert.False(r.IsAccepted);
            Assert.Equal(0, r.Sequence);
            Assert.True(r.SizeBytes > quota);
        }

        var stats = store.GetStats();
        Assert.Equal(50, stats.For(OutboxMessageClass.ClipAudio).RefusedCount);
        Assert.Equal(1, stats.TotalCount); // nothing was evicted for it
        Assert.Equal(2, store.Enqueue(OutboxMessageClass.Detection, "d", Payload(2, 100)).Sequence);
    }

    [Fact]
    public void Reports_depth_per_class_for_heartbeats()
    {
        using var store = Open();
        store.Enqueue(OutboxMessageClass.Detection, "d", Payload(1, 100));
        store.Enqueue(OutboxMessageClass.Detection, "d", Payload(2, 150));
        store.Enqueue(OutboxMessageClass.Sketch, "sketch", Payload(3, 4000));
        store.Enqueue(OutboxMessageClass.Sketch, "sketch", []);

        var stats = store.GetStats();
        Assert.Equal(2, stats.For(OutboxMessageClass.Detection).Count);
        Assert.Equal(OutboxStore.AccountedSize("d", 100) + OutboxStore.AccountedSize("d", 150), stats.For(OutboxMessageClass.Detection).Bytes);
        Assert.Equal(2, stats.For(OutboxMessageClass.Sketch).Count);
        Assert.Equal(OutboxStore.AccountedSize("sketch", 4000) + OutboxStore.AccountedSize("sketch", 0), stats.For(OutboxMessageClass.Sketch).Bytes);
        Assert.Equal(0, stats.For(OutboxMessageClass.ClipAudio).Count);
        Assert.Equal(4, stats.TotalCount);
        Assert.Equal(OutboxPolicy.AllClasses.Length, stats.PerClass.Count);
        Assert.Empty(store.PeekBatch(10)[3].Payload); // an empty payload round-trips as empty, not NULL
    }

    [Fact]
    public void One_enqueuing_thread_and_one_acking_thread_lose_and_duplicate_nothing()
    {
        const int total = 600;
        using var store = Open();
        var acked = new List<(long Seq, byte[] Payload)>();
        Exception? failure = null;

        var writer = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < total; i++)
                {
                    var r = store.Enqueue(i % 5 == 0 ? OutboxMessageClass.Heartbeat : OutboxMessageClass.Detection, "c", Payload(i, 64 + (i % 50)));
                    if (r.Sequence != i + 1)
                        throw new InvalidOperationException($"enqueue {i} got sequence {r.Sequence}");
                }
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        var acker = new Thread(() =>
        {
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (acked.Count < total && DateTime.UtcNow < deadline)
                {
                    var batch = store.PeekBatch(32);
                    if (batch.Count == 0)
                    {
                        Thread.Yield();
                        continue;
                    }

                    acked.AddRange(batch.Select(m => (m.Sequence, m.Payload)));
                    if (store.Acknowledge(batch.Select(m => m.Sequence).ToArray()) != batch.Count)
                        throw new InvalidOperationException("an acknowledged message was already gone");
                }
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        writer.Start();
        acker.Start();
        writer.Join();
        acker.Join();

        Assert.Null(failure);
        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), acked.Select(a => a.Seq));
        for (int i = 0; i < total; i++)
            Assert.Equal(Payload(i, 64 + (i % 50)), acked[i].Payload);
        Assert.Equal(0, store.GetStats().TotalCount);
    }

    [Fact]
    public void Corrupt_database_is_moved_aside_and_sequences_continue_above_the_old_ones()
    {
        string path = _dir.File("outbox.db");
        using (var store = Open())
        {
            for (int i = 0; i < 200; i++)
                store.Enqueue(OutboxMessageClass.Detection, "d", Payload(i, 500));
        }

        // Damage the pages after the first two (the messages table and its indexes).
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            Assert.True(f.Length > 16 * 4096);
            f.Seek(3 * 4096, SeekOrigin.Begin);
            f.Write(Payload(77, 8 * 4096));
        }

        var logged = new List<string>();
        using (var store = Open(log: logged.Add))
        {
            Assert.NotNull(store.CorruptionRecovery);
            Assert.True(File.Exists(store.CorruptionRecovery!.MovedAsidePath));
            Assert.StartsWith(path + ".corrupt-", store.CorruptionRecovery.MovedAsidePath);
            Assert.Contains(store.CorruptionRecovery.MovedAsidePath, Assert.Single(logged));
            Assert.Equal("ok", store.CheckIntegrity());
            Assert.Equal(0, store.GetStats().TotalCount);
            long next = store.Enqueue(OutboxMessageClass.Detection, "d", Payload(1, 10)).Sequence;
            Assert.True(next > 200, $"sequence restarted at {next} after recovery");
            Assert.Equal(store.CorruptionRecovery.FirstSequenceAfterRecovery, next);
        }

        using (var store = Open())
            Assert.Null(store.CorruptionRecovery); // the fresh store is healthy
    }

    [Fact]
    public void File_that_is_not_a_database_is_moved_aside_and_sequences_start_above_the_clock_floor()
    {
        string path = _dir.File("outbox.db");
        File.WriteAllBytes(path, Payload(5, 10_000));

        using var store = Open();
        Assert.NotNull(store.CorruptionRecovery);
        Assert.Equal(Payload(5, 10_000), File.ReadAllBytes(store.CorruptionRecovery!.MovedAsidePath));
        long seq = store.Enqueue(OutboxMessageClass.Heartbeat, "h", Payload(1, 10)).Sequence;
        Assert.Equal(T0.ToUnixTimeMilliseconds() * 1000, seq);
    }

    [Fact]
    public void Second_open_of_the_same_outbox_fails_with_a_clear_error()
    {
        using var first = Open();
        first.Enqueue(OutboxMessageClass.Detection, "d", Payload(1, 10));

        var ex = Assert.Throws<InvalidOperationException>(() => Open());
        Assert.Contains("in use by another process", ex.Message);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.corrupt-*"));
    }

    [Fact]
    public void Rejects_bad_arguments_with_specific_errors()
    {
        using var store = Open();
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Enqueue((OutboxMessageClass)42, "t", [1]));
        Assert.Contains("wildcard", Assert.Throws<ArgumentException>(() => store.Enqueue(OutboxMessageClass.Detection, "a/#", [1])).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => store.Enqueue(OutboxMessageClass.Detection, "", [1])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.PeekBatch(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OutboxStore.Open(new OutboxOptions { DatabasePath = _dir.File("x.db"), QuotaBytes = 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => OutboxStore.Open(new OutboxOptions
        {
            DatabasePath = _dir.File("y.db"),
            TimeToLive = new Dictionary<OutboxMessageClass, TimeSpan> { [OutboxMessageClass.Detection] = TimeSpan.Zero },
        }));
        Assert.Equal(0, store.GetStats().TotalCount);
    }
}
