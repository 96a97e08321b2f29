namespace EdgeKws.Device.Outbox;

/// <summary>
/// Frees room for an incoming message inside the caller's transaction: oldest first within each class, in the order of
/// <see cref="Steps"/>, and only classes the incoming one may evict (<see cref="OutboxPolicy.RetentionRank"/>). Records
/// what it deletes in the ledger's delta.
/// </summary>
/// <remarks>Not thread-safe: the store's lock serializes every use. Reuses one victim list.</remarks>
internal sealed class OutboxEviction(OutboxStatements sql, OutboxLedger ledger)
{
    // Newest heartbeat is protected until the very last step: heartbeats carry cumulative totals.
    private static readonly (OutboxMessageClass Class, bool KeepNewest)[] Steps =
    [
        (OutboxMessageClass.NearMiss, false),
        (OutboxMessageClass.ClipAudio, false),
        (OutboxMessageClass.ClipFeatures, false),
        (OutboxMessageClass.Sketch, false),
        (OutboxMessageClass.EnrollmentQc, false),
        (OutboxMessageClass.ModelStatus, false),
        (OutboxMessageClass.Heartbeat, true),
        (OutboxMessageClass.Detection, false),
        (OutboxMessageClass.Heartbeat, false),
    ];

    private readonly List<long> _victims = new(256);

    /// <summary>Evicts per <see cref="Steps"/> until <paramref name="neededBytes"/> are freed or nothing this
    /// class may evict is left; returns the accounted bytes freed.</summary>
    public long EvictInTransaction(OutboxMessageClass incoming, long neededBytes)
    {
        OutboxDelta delta = ledger.Delta;
        int incomingRank = OutboxPolicy.RetentionRank(incoming);
        long freed = 0;
        foreach (var (cls, keepNewest) in Steps)
        {
            if (freed >= neededBytes)
                break;
            if (OutboxPolicy.RetentionRank(cls) > incomingRank)
                continue;
            int slot = (int)cls;
            long upperBound = long.MaxValue;
            if (keepNewest)
                upperBound = sql.NewestOfClass.Bind(1, slot).ExecuteScalarInt64() ?? long.MinValue;

            while (freed < neededBytes && ledger.Count[slot] - delta.RemovedCount[slot] > 0)
            {
                _victims.Clear();
                long batchFreed = 0;
                try
                {
                    sql.OldestOfClass.Bind(1, slot).Bind(2, upperBound);
                    while (freed + batchFreed < neededBytes && sql.OldestOfClass.Step())
                    {
                        _victims.Add(sql.OldestOfClass.Int64(0));
                        batchFreed += sql.OldestOfClass.Int64(1);
                    }
                }
                finally
                {
                    sql.OldestOfClass.Reset();
                }

                if (_victims.Count == 0)
                    break;
                foreach (long victim in _victims)
                    sql.DeleteBySeq.Bind(1, victim).Execute();
                freed += batchFreed;
                delta.Evict(slot, _victims.Count, batchFreed);
            }
        }

        return freed;
    }
}
