using System.Globalization;
using SQLite;
using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// Keeps the outbox inside its files' budget and alive on a full disk: the reserve file, the database's page cap, the
/// WAL checkpoint after commits, disk-full mode (entered when a write fails for lack of space, left when a probe finds
/// room again) and the failures logged once (docs/outbox.md, "A full disk").
/// </summary>
/// <remarks>Not thread-safe: the store's lock serializes every use.</remarks>
internal sealed class OutboxDiskGuard
{
    private static readonly TimeSpan SpaceProbeInterval = TimeSpan.FromSeconds(2);

    private readonly sqlite3 _db;
    private readonly OutboxBudget _budget;
    private readonly OutboxOptions _options;
    private readonly SqliteStatement _pageCount;
    private readonly string _walPath;
    private readonly string _reservePath;
    private readonly string _directory;
    private bool _reservePresent;
    private long _lastSpaceProbe;
    private string? _lastFailureLogged;

    public OutboxDiskGuard(sqlite3 db, string databasePath, OutboxBudget budget, OutboxOptions options, SqliteStatement pageCount)
    {
        _db = db;
        _budget = budget;
        _options = options;
        _pageCount = pageCount;
        _walPath = databasePath + "-wal";
        _reservePath = databasePath + "-reserve";
        _directory = Path.GetDirectoryName(databasePath) ?? ".";
    }

    /// <summary>True while the disk is full: the reserve is released, the database capped at its size.</summary>
    public bool DiskFull { get; private set; }

    /// <summary>At open: caps the database at the budget's pages and allocates the reserve (logged, and retried later, when it cannot).</summary>
    public void Start()
    {
        // An outbox created by an earlier build may already be larger than the cap: SQLite then keeps it at its size.
        SetPageCap(_budget.DatabaseMaxPages);
        _reservePresent = TryAllocateReserve(out string? reserveProblem);
        if (!_reservePresent)
            _options.Log?.Invoke($"outbox: cannot allocate the {_budget.ReserveBytes} byte reserve '{_reservePath}' ({reserveProblem}); retrying later.");
    }

    /// <summary>SQLITE_FULL (disk or page cap), or an I/O error while the disk has no room (fallocate, fsync, write).</summary>
    public bool IsFull(SQLiteException ex) =>
        ex.Result == SQLite3.Result.Full || (ex.Result == SQLite3.Result.IOError && DiskHasNoRoom());

    /// <summary>A write hit the page cap or a full disk. On a full disk: release the reserve and cap the database at its
    /// size. True when this call entered disk-full mode.</summary>
    public bool OnFull(SQLiteException ex, string doing)
    {
        if (DiskFull || !DiskHasNoRoom())
            return false; // already handled, or the database's own page cap (eviction handles it silently)
        DiskFull = true;
        long released = ReleaseReserve();
        long pages = PageCount();
        SetPageCap(pages);
        _lastSpaceProbe = _options.Clock.GetTimestamp();
        _options.Log?.Invoke(
            $"outbox: the disk is full ({doing} failed: {ex.Message}); released the {released} byte reserve and capped the database at its current " +
            $"{pages * _budget.PageSizeBytes} bytes: new messages are stored by evicting older ones by class, stored messages are still sent, " +
            "what cannot be stored is counted as failed.");
        return true;
    }

    /// <summary>Checkpoints the WAL when it passed its threshold (always while the disk is full, to give the space back),
    /// and checks whether space came back.</summary>
    public void AfterCommit()
    {
        long wal = 0;
        try
        {
            wal = new FileInfo(_walPath).Length;
        }
        catch (IOException)
        {
            // No WAL file: nothing to checkpoint.
        }

        if (wal > _budget.WalCheckpointBytes || (DiskFull && wal > 0))
            Checkpoint();

        if (DiskFull || !_reservePresent)
            ProbeSpace();
    }

    /// <summary>Logs a failure once until a different failure or the end of disk-full mode (a full disk would otherwise log every write).</summary>
    public void LogFailure(string kind, string message)
    {
        if (_lastFailureLogged == kind)
            return;
        _lastFailureLogged = kind;
        _options.Log?.Invoke(message);
    }

    private bool DiskHasNoRoom()
    {
        try
        {
            return new DriveInfo(_directory).AvailableFreeSpace < _budget.ReserveBytes + _budget.WalMaxBytes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    private void Checkpoint()
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                SqliteStatement.QueryTexts(_db, "PRAGMA wal_checkpoint(TRUNCATE)");
                return;
            }
            catch (SQLiteException ex) when (IsFull(ex))
            {
                // The database file may need to grow into what the WAL used: release the reserve and try once more.
                OnFull(ex, "checkpointing the write-ahead log");
            }
            catch (SQLiteException ex)
            {
                LogFailure("checkpoint", $"outbox: checkpoint failed: {ex.Message}");
                return;
            }
        }
    }

    /// <summary>At most every two seconds: when the disk has room for the reserve twice over, allocate it and leave disk-full mode.</summary>
    private void ProbeSpace()
    {
        long now = _options.Clock.GetTimestamp();
        if (_lastSpaceProbe != 0 && _options.Clock.GetElapsedTime(_lastSpaceProbe, now) < SpaceProbeInterval)
            return;
        _lastSpaceProbe = now;
        long available;
        try
        {
            available = new DriveInfo(_directory).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return;
        }

        // Hysteresis: leaving disk-full mode on the space the last checkpoint just gave back would flap.
        if (available < (2 * _budget.ReserveBytes) + _budget.WalMaxBytes)
            return;
        if (!_reservePresent)
            _reservePresent = TryAllocateReserve(out _);
        if (DiskFull && _reservePresent)
        {
            DiskFull = false;
            _lastFailureLogged = null;
            SetPageCap(_budget.DatabaseMaxPages);
            _options.Log?.Invoke($"outbox: disk space is back ({available} bytes free): reserve re-allocated, the database may grow to its cap again.");
        }
    }

    private bool TryAllocateReserve(out string? problem)
    {
        problem = null;
        try
        {
            if (File.Exists(_reservePath))
                File.Delete(_reservePath); // re-created at the current size (the quota may have changed)
            // fallocate: the blocks are really taken from the filesystem, unlike a sparse file of that length.
            using (File.OpenHandle(_reservePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, _budget.ReserveBytes))
            {
            }
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = ex.Message;
            try
            {
                File.Delete(_reservePath);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do: the next probe tries again.
            }
            return false;
        }
    }

    private long ReleaseReserve()
    {
        if (!_reservePresent)
            return 0;
        _reservePresent = false;
        try
        {
            File.Delete(_reservePath);
            return _budget.ReserveBytes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private long PageCount()
    {
        try
        {
            return _pageCount.ExecuteScalarInt64() ?? 0;
        }
        catch (SQLiteException)
        {
            return 0;
        }
    }

    private void SetPageCap(long pages)
    {
        // SQLite never sets the cap below the current size; a larger file keeps its size and simply stops growing.
        SqliteStatement.QueryTexts(_db, "PRAGMA max_page_count = " + Math.Max(pages, 1).ToString(CultureInfo.InvariantCulture));
    }
}
