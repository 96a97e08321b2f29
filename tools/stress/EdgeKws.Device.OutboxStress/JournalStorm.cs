using System.Diagnostics;
using System.Globalization;
using SQLite;

namespace EdgeKws.Device.OutboxStress;

/// <summary>
/// Measures which SQLite journal setting keeps an outbox's files under its quota. Each setting gets the same storm:
/// messages of 300 B to 32 KB inserted with one fsync each (synchronous=FULL, exclusive locking, as the outbox), the
/// oldest deleted whenever the stored bytes pass the quota, and after every commit the database and journal files'
/// sizes sampled. This is raw SQLite, not OutboxStore: the question is what the journal does, not what the store does.
/// </summary>
internal static class JournalStorm
{
    public static int Run(string dir, long quotaBytes, int count)
    {
        Directory.CreateDirectory(dir);
        Console.WriteLine($"storm: {count} inserts of 300 B-32 KB, oldest deleted past {quotaBytes} stored bytes; peaks after each commit");
        Console.WriteLine("| setting | database peak | journal peak | files peak | files / quota | inserts/s |");
        Console.WriteLine("|---|---|---|---|---|---|");
        long wal = quotaBytes / 16;
        Measure(dir, "WAL, journal_size_limit 4 MiB, auto-checkpoint 1000 pages (the outbox before)", quotaBytes, count,
            ["PRAGMA journal_mode = WAL", "PRAGMA journal_size_limit = 4194304"], "-wal", null);
        Measure(dir, $"WAL, journal_size_limit {wal} B, auto-checkpoint 1000 pages", quotaBytes, count,
            ["PRAGMA journal_mode = WAL", $"PRAGMA journal_size_limit = {wal}"], "-wal", null);
        Measure(dir, $"WAL, checkpoint(TRUNCATE) after a commit past {wal} B", quotaBytes, count,
            ["PRAGMA journal_mode = WAL", "PRAGMA wal_autocheckpoint = 0"], "-wal", wal);
        Measure(dir, "rollback journal (journal_mode TRUNCATE)", quotaBytes, count,
            ["PRAGMA journal_mode = TRUNCATE"], "-journal", null);
        return 0;
    }

    private static void Measure(string dir, string name, long quotaBytes, int count, string[] pragmas, string journalSuffix, long? truncateAbove)
    {
        string path = Path.Combine(dir, "journal-" + Guid.NewGuid().ToString("N")[..8] + ".db");
        var random = new Random(5);
        long dbPeak = 0, journalPeak = 0, filesPeak = 0;
        var sw = Stopwatch.StartNew();
        using (var db = new SQLiteConnection(path))
        {
            db.ExecuteScalar<string>("PRAGMA locking_mode = EXCLUSIVE");
            foreach (string p in pragmas)
            {
                db.ExecuteScalar<string>(p);
            }
            db.Execute("PRAGMA synchronous = FULL");
            db.Execute("CREATE TABLE m(seq INTEGER PRIMARY KEY, payload BLOB NOT NULL, size INTEGER NOT NULL)");
            long stored = 0, oldest = 1;
            for (int i = 1; i <= count; i++)
            {
                int size = random.Next(10) < 7 ? 300 : random.Next(1000, 32 * 1024);
                db.BeginTransaction();
                while (stored + size > quotaBytes)
                {
                    stored -= db.ExecuteScalar<long>("SELECT size FROM m WHERE seq = ?", oldest);
                    db.Execute("DELETE FROM m WHERE seq = ?", oldest++);
                }
                db.Execute("INSERT INTO m(seq, payload, size) VALUES (?, ?, ?)", i, new byte[size], size);
                stored += size;
                db.Commit();
                long journal = FileLength(path + journalSuffix);
                if (truncateAbove is { } limit && journal > limit)
                {
                    db.ExecuteScalar<string>("PRAGMA wal_checkpoint(TRUNCATE)");
                }
                long database = FileLength(path);
                dbPeak = Math.Max(dbPeak, database);
                journalPeak = Math.Max(journalPeak, journal);
                filesPeak = Math.Max(filesPeak, database + journal);
            }
        }
        double rate = count / sw.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {dbPeak / 1024.0:F0} KiB | {journalPeak / 1024.0:F0} KiB | {filesPeak / 1024.0:F0} KiB | {(double)filesPeak / quotaBytes:F2} | {rate:F0} |"));
        foreach (string f in Directory.GetFiles(dir, Path.GetFileName(path) + "*"))
        {
            File.Delete(f);
        }
    }

    private static long FileLength(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}
