using System.Globalization;
using SQLite;
using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// What <see cref="OutboxStore.Open"/> does with a corrupt file: tell corruption from other errors, salvage the highest
/// sequence it still shows (sequences never repeat), and move the file and its WAL aside for forensics.
/// </summary>
internal static class OutboxCorruption
{
    public static bool IsCorruption(SQLite3.Result result) =>
        result is SQLite3.Result.Corrupt or SQLite3.Result.NonDBFile;

    public static long TrySalvageLastSequence(sqlite3 db)
    {
        long best = 0;
        foreach (string sql in new[] { "SELECT MAX(seq) FROM messages", "SELECT value - 1 FROM meta WHERE key = 'next_seq'" })
        {
            try
            {
                using var stmt = new SqliteStatement(db, sql);
                long value = stmt.ExecuteScalarInt64() ?? 0;
                // A damaged page can yield nonsense; only trust values that leave room to count on.
                if (value > best && value < long.MaxValue / 4)
                    best = value;
            }
            catch (SQLiteException)
            {
                // Unreadable: the wall-clock floor covers it.
            }
        }

        return best;
    }

    public static string MoveAside(string path, DateTimeOffset now)
    {
        string stamp = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        string target = $"{path}.corrupt-{stamp}";
        for (int n = 1; File.Exists(target); n++)
            target = $"{path}.corrupt-{stamp}-{n}";
        File.Move(path, target);
        // Keep the WAL with its database (SQLite pairs "<db>-wal" with "<db>") for forensics.
        foreach (string suffix in new[] { "-wal", "-shm", "-journal" })
        {
            if (File.Exists(path + suffix))
                File.Move(path + suffix, target + suffix);
        }

        return target;
    }
}

/// <summary>Raised inside <see cref="OutboxStore.Open"/> when the file is readable but its content is
/// inconsistent; handled there by moving the file aside.</summary>
internal sealed class OutboxCorruptException(string message) : Exception(message);
