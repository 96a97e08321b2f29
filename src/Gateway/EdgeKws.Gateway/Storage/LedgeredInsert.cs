using System.Globalization;
using System.Text;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The statements that store one sequenced message: its row in the ledger <c>messages</c> and, only when that row is new, its typed
/// row (<see cref="StoreDialect.LedgeredInsert"/>). Added to a <see cref="StoreSession.ExecuteBatch"/>, the LAST statement
/// <see cref="AddTo"/> adds changes one row when the message is new and none when its key was already in the ledger.
/// </summary>
/// <remarks>
/// PostgreSQL: one statement, a data-modifying CTE (<c>WITH ins AS (INSERT INTO messages ... ON CONFLICT DO NOTHING RETURNING 1)
/// INSERT INTO t ... WHERE EXISTS (SELECT 1 FROM ins)</c>), so a message is one statement of the pipelined batch, and the pair is
/// decided by the ledger insert alone: under READ COMMITTED a concurrent insert of the same key by another gateway instance makes
/// this one wait for that commit and then do nothing. SQLite has no data-modifying CTE: two statements, the typed insert conditional
/// on <c>changes()</c>, the rows the ledger insert just changed (nothing runs between them: the store's one writer connection, in the
/// batch's transaction). Either way the typed insert says <c>ON CONFLICT DO NOTHING</c>, which never fires: a typed row is only ever
/// inserted with its new ledger row, and ledger rows are never deleted.
/// </remarks>
internal sealed class LedgeredInsert
{
    private const string LedgerInsert =
        "INSERT INTO messages (device_id, seq, kind, payload_sha256, received_utc_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

    private readonly string[] _sql;
    private readonly int _columnCount;

    public LedgeredInsert(string table, string columns, bool dataModifyingCte)
    {
        _columnCount = columns.Split(',').Length;
        if (dataModifyingCte)
        {
            // The ledger's arguments are $1..$5, the typed row's $6, $7, ...
            _sql = [$"WITH ins AS ({LedgerInsert} RETURNING 1) INSERT INTO {table} ({columns}) SELECT {Parameters(6, _columnCount)} WHERE EXISTS (SELECT 1 FROM ins) ON CONFLICT DO NOTHING"];
        }
        else
        {
            _sql = [LedgerInsert, $"INSERT INTO {table} ({columns}) SELECT {Parameters(1, _columnCount)} WHERE changes() = 1 ON CONFLICT DO NOTHING"];
        }
    }

    /// <summary>Adds the statements for one message: <paramref name="ledger"/> is (device_id, seq, kind, payload_sha256, received_utc_ms),
    /// <paramref name="typed"/> the typed row's values in the order of the columns.</summary>
    public void AddTo(List<StoreStatement> statements, StoreArg[] ledger, StoreArg[] typed)
    {
        if (ledger.Length != 5 || typed.Length != _columnCount)
        {
            throw new ArgumentException($"a ledgered insert takes 5 ledger values and {_columnCount} typed values, not {ledger.Length} and {typed.Length}");
        }
        if (_sql.Length == 1)
        {
            statements.Add(new StoreStatement(_sql[0], [.. ledger, .. typed]));
        }
        else
        {
            statements.Add(new StoreStatement(_sql[0], ledger));
            statements.Add(new StoreStatement(_sql[1], typed));
        }
    }

    private static string Parameters(int first, int count)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            sb.Append(i == 0 ? "$" : ", $").Append((first + i).ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
