using System.Globalization;
using SQLite;
using SQLitePCL;

namespace EdgeKws.Labeling.Review;

/// <summary>
/// <see cref="IReviewQueue"/> in one SQLite file (WAL mode). Two tables: <c>review_items</c> (the
/// item with its proposed and final label) and <c>review_decisions</c> (every decision, first reviews
/// and re-reviews, with reviewer and UTC time) so the audit trail is never overwritten.
/// </summary>
/// <remarks>Thread-safe: one connection serialised by a lock. Raw SQLitePCL statements, no ORM reflection.</remarks>
public sealed class SqliteReviewQueue : IReviewQueue, IDisposable
{
    private const string Columns = "id, item_key, subject, source_recording, clip_path, proposed_label, start_ms, end_ms, reason, source_kind, source_tool, source_confidence, status, final_label, final_start_ms, final_end_ms, reviewer";

    private readonly SQLiteConnection _connection;
    private readonly sqlite3 _db;
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    /// <summary>Opens (creating if needed) the queue at <paramref name="path"/>.</summary>
    public SqliteReviewQueue(string path, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _connection = new SQLiteConnection(path, SQLiteOpenFlags.ReadWrite | SQLiteOpenFlags.Create | SQLiteOpenFlags.FullMutex);
        _db = _connection.Handle;
        Exec("PRAGMA journal_mode=WAL");
        Exec("""
            CREATE TABLE IF NOT EXISTS review_items (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              item_key TEXT NOT NULL UNIQUE,
              subject TEXT NOT NULL,
              source_recording TEXT NOT NULL,
              clip_path TEXT,
              proposed_label TEXT NOT NULL,
              start_ms REAL NOT NULL,
              end_ms REAL NOT NULL,
              reason TEXT NOT NULL,
              source_kind TEXT NOT NULL,
              source_tool TEXT NOT NULL,
              source_confidence REAL,
              status TEXT NOT NULL,
              final_label TEXT,
              final_start_ms REAL,
              final_end_ms REAL,
              reviewer TEXT,
              created_utc TEXT NOT NULL)
            """);
        Exec("CREATE INDEX IF NOT EXISTS review_items_status ON review_items(status, id)");
        Exec("""
            CREATE TABLE IF NOT EXISTS review_decisions (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              item_id INTEGER NOT NULL REFERENCES review_items(id),
              reviewer TEXT NOT NULL,
              decision TEXT NOT NULL,
              label TEXT NOT NULL,
              is_rereview INTEGER NOT NULL,
              decided_utc TEXT NOT NULL)
            """);
    }

    /// <summary>The database file.</summary>
    public string DatabasePath => _connection.DatabasePath;

    /// <inheritdoc/>
    public ReviewItem Enqueue(ReviewItem item)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(item.ItemKey);
        lock (_gate)
        {
            Run("INSERT INTO review_items(item_key, subject, source_recording, clip_path, proposed_label, start_ms, end_ms, reason, source_kind, source_tool, source_confidence, status, created_utc) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,'pending',?12) ON CONFLICT(item_key) DO NOTHING",
                item.ItemKey, item.Subject, item.SourceRecording, item.ClipPath, item.ProposedLabel, item.StartMs, item.EndMs, item.Reason,
                item.ProposedBy.Kind, item.ProposedBy.Tool, item.ProposedBy.Confidence, Now());
            return QueryItems($"SELECT {Columns} FROM review_items WHERE item_key = ?1", item.ItemKey)[0];
        }
    }

    /// <inheritdoc/>
    public bool TryGet(long id, out ReviewItem item)
    {
        lock (_gate)
        {
            List<ReviewItem> rows = QueryItems($"SELECT {Columns} FROM review_items WHERE id = ?1", id);
            item = rows.Count > 0 ? rows[0] : null!;
            return rows.Count > 0;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<ReviewItem> Pending(int max)
    {
        lock (_gate)
        {
            return QueryItems($"SELECT {Columns} FROM review_items WHERE status = 'pending' ORDER BY id LIMIT ?1", (long)max);
        }
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, int> CountByStatus()
    {
        lock (_gate)
        {
            var counts = new Dictionary<string, int> { [ReviewStatus.Pending] = 0, [ReviewStatus.Confirmed] = 0, [ReviewStatus.Corrected] = 0 };
            using var s = Prepare("SELECT status, COUNT(*) FROM review_items GROUP BY status");
            while (Step(s))
            {
                counts[raw.sqlite3_column_text(s, 0).utf8_to_string()] = raw.sqlite3_column_int(s, 1);
            }

            return counts;
        }
    }

    /// <inheritdoc/>
    public ReviewItem Confirm(long id, string reviewer) => Decide(id, reviewer, null, null, null);

    /// <inheritdoc/>
    public ReviewItem Correct(long id, string reviewer, string label, double? startMs = null, double? endMs = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(label);
        return Decide(id, reviewer, label, startMs, endMs);
    }

    private ReviewItem Decide(long id, string reviewer, string? label, double? startMs, double? endMs)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reviewer);
        lock (_gate)
        {
            ReviewItem item = TryGetUnlocked(id) ?? throw new KeyNotFoundException($"No review item with id {id}.");
            bool corrected = label is not null && (label != item.ProposedLabel || startMs is not null || endMs is not null);
            string status = corrected ? ReviewStatus.Corrected : ReviewStatus.Confirmed;
            string finalLabel = label ?? item.ProposedLabel;
            Exec("BEGIN IMMEDIATE");
            try
            {
                Run("UPDATE review_items SET status = ?2, final_label = ?3, final_start_ms = ?4, final_end_ms = ?5, reviewer = ?6 WHERE id = ?1",
                    id, status, finalLabel, startMs ?? item.StartMs, endMs ?? item.EndMs, reviewer);
                Run("INSERT INTO review_decisions(item_id, reviewer, decision, label, is_rereview, decided_utc) VALUES (?1, ?2, ?3, ?4, 0, ?5)", id, reviewer, status, finalLabel, Now());
                Exec("COMMIT");
            }
            catch
            {
                Exec("ROLLBACK");
                throw;
            }

            return TryGetUnlocked(id)!;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<ReviewItem> SampleForReReview(int count, long seed, string excludingReviewer)
    {
        lock (_gate)
        {
            List<ReviewItem> reviewed = QueryItems($"SELECT {Columns} FROM review_items WHERE status != 'pending' AND reviewer != ?1 ORDER BY id", excludingReviewer);
            // A seeded shuffle so the audit sample is reproducible.
            var rng = new Random(unchecked((int)seed));
            return [.. reviewed.OrderBy(_ => rng.Next()).Take(count)];
        }
    }

    /// <inheritdoc/>
    public void ReReview(long id, string reviewer, string label)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reviewer);
        lock (_gate)
        {
            ReviewItem item = TryGetUnlocked(id) ?? throw new KeyNotFoundException($"No review item with id {id}.");
            if (item.Status == ReviewStatus.Pending)
            {
                throw new InvalidOperationException($"Item {id} has not had a first review; re-review measures agreement with one.");
            }

            if (item.ReviewedBy?.Reviewer == reviewer)
            {
                throw new InvalidOperationException($"Item {id} was first reviewed by '{reviewer}'; a re-review must be by someone else.");
            }

            Run("INSERT INTO review_decisions(item_id, reviewer, decision, label, is_rereview, decided_utc) VALUES (?1, ?2, 'rereview', ?3, 1, ?4)", id, reviewer, label, Now());
        }
    }

    /// <inheritdoc/>
    public AgreementFigures Agreement()
    {
        lock (_gate)
        {
            using var s = Prepare("SELECT COUNT(*), COALESCE(SUM(r.label = i.final_label), 0) FROM review_decisions r JOIN review_items i ON i.id = r.item_id WHERE r.is_rereview = 1");
            Step(s);
            return new AgreementFigures(raw.sqlite3_column_int(s, 0), raw.sqlite3_column_int(s, 1));
        }
    }

    /// <summary>Closes the database.</summary>
    public void Dispose() => _connection.Dispose();

    private ReviewItem? TryGetUnlocked(long id)
    {
        List<ReviewItem> rows = QueryItems($"SELECT {Columns} FROM review_items WHERE id = ?1", id);
        return rows.Count > 0 ? rows[0] : null;
    }

    private List<ReviewItem> QueryItems(string sql, params object?[] args)
    {
        var list = new List<ReviewItem>();
        using var s = Prepare(sql);
        Bind(s, args);
        while (Step(s))
        {
            string? reviewer = Text(s, 16);
            string status = Text(s, 12)!;
            list.Add(new ReviewItem(
                raw.sqlite3_column_int64(s, 0), Text(s, 1)!, Text(s, 2)!, Text(s, 3)!, Text(s, 4), Text(s, 5)!,
                raw.sqlite3_column_double(s, 6), raw.sqlite3_column_double(s, 7), Text(s, 8)!,
                new LabelSource(Text(s, 9)!, Text(s, 10)!, Real(s, 11)),
                status, Text(s, 13), Real(s, 14), Real(s, 15),
                reviewer is null ? null : new LabelSource(LabelKinds.Review, "edgekws-review", 1.0, reviewer)));
        }

        return list;
    }

    private static string? Text(sqlite3_stmt s, int i) => raw.sqlite3_column_type(s, i) == raw.SQLITE_NULL ? null : raw.sqlite3_column_text(s, i).utf8_to_string();

    private static double? Real(sqlite3_stmt s, int i) => raw.sqlite3_column_type(s, i) == raw.SQLITE_NULL ? null : raw.sqlite3_column_double(s, i);

    private string Now() => _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private void Exec(string sql)
    {
        using var s = Prepare(sql);
        while (Step(s))
        {
        }
    }

    private void Run(string sql, params object?[] args)
    {
        using var s = Prepare(sql);
        Bind(s, args);
        while (Step(s))
        {
        }
    }

    private Stmt Prepare(string sql)
    {
        int rc = raw.sqlite3_prepare_v2(_db, sql, out sqlite3_stmt stmt);
        return rc == raw.SQLITE_OK ? new Stmt(stmt) : throw new InvalidOperationException($"SQLite error {rc} ({raw.sqlite3_errmsg(_db).utf8_to_string()}) preparing: {sql}");
    }

    private void Bind(sqlite3_stmt s, object?[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            int rc = args[i] switch
            {
                null => raw.sqlite3_bind_null(s, i + 1),
                string t => raw.sqlite3_bind_text(s, i + 1, t),
                long l => raw.sqlite3_bind_int64(s, i + 1, l),
                int n => raw.sqlite3_bind_int64(s, i + 1, n),
                double d => raw.sqlite3_bind_double(s, i + 1, d),
                _ => throw new ArgumentException($"Unsupported parameter type {args[i]!.GetType()}."),
            };
            if (rc != raw.SQLITE_OK)
            {
                throw new InvalidOperationException($"SQLite error {rc} binding parameter {i + 1}: {raw.sqlite3_errmsg(_db).utf8_to_string()}");
            }
        }
    }

    private bool Step(sqlite3_stmt s)
    {
        int rc = raw.sqlite3_step(s);
        return rc switch
        {
            raw.SQLITE_ROW => true,
            raw.SQLITE_DONE => false,
            _ => throw new InvalidOperationException($"SQLite error {rc}: {raw.sqlite3_errmsg(_db).utf8_to_string()}"),
        };
    }

    // Finalises the statement at the end of a using block.
    private readonly struct Stmt(sqlite3_stmt handle) : IDisposable
    {
        public static implicit operator sqlite3_stmt(Stmt s) => s.Handle;

        public sqlite3_stmt Handle { get; } = handle;

        public void Dispose() => Handle.Dispose();
    }
}
