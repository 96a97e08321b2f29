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
/// <para>In the PostgreSQL statement the typed row's <c>device_id</c>, <c>seq</c> and <c>received_utc_ms</c> columns take the ledger's
/// own parameters ($1, $2, $5), so those values are sent once; <see cref="AddTo"/> checks that the typed values given for them are the
/// ledger's.</para>
/// </remarks>
internal sealed class LedgeredInsert
{
    private const string LedgerInsert =
        "INSERT INTO messages (device_id, seq, kind, payload_sha256, received_utc_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

    /// <summary>The typed columns that hold a ledger value, and the ledger value's index (device_id $1, seq $2, received_utc_ms $5).
    /// </summary>
    private static readonly (string Column, int LedgerIndex)[] LedgerColumns = [("device_id", 0), ("seq", 1), ("received_utc_ms", 4)];

    private readonly string[] _sql;
    private readonly int _columnCount;

    /// <summary>Per typed column, the index of the ledger value it shares a parameter with in the single statement, else -1; empty
    /// when every typed value is sent (SQLite's two statements).</summary>
    private readonly int[] _sharedLedgerIndex = [];
    private readonly int _ownArgCount;

    public LedgeredInsert(string table, string columns, bool dataModifyingCte)
    {
        string[] names = columns.Split(',', StringSplitOptions.TrimEntries);
        _columnCount = names.Length;
        if (dataModifyingCte)
        {
            // The ledger's arguments are $1..$5; a typed column holding a ledger value reuses its parameter, the others are $6, $7, ...
            _sharedLedgerIndex = new int[_columnCount];
            var values = new StringBuilder();
            int next = 6;
            for (int i = 0; i < _columnCount; i++)
            {
                int shared = Array.FindIndex(LedgerColumns, c => string.Equals(c.Column, names[i], StringComparison.Ordinal));
                _sharedLedgerIndex[i] = shared < 0 ? -1 : LedgerColumns[shared].LedgerIndex;
                int parameter = shared < 0 ? next++ : LedgerColumns[shared].LedgerIndex + 1;
                values.Append(i == 0 ? "$" : ", $").Append(parameter.ToString(CultureInfo.InvariantCulture));
            }
            _ownArgCount = next - 6;
            _sql = [$"WITH ins AS ({LedgerInsert} RETURNING 1) INSERT INTO {table} ({columns}) SELECT {values} WHERE EXISTS (SELECT 1 FROM ins) ON CONFLICT DO NOTHING"];
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
            var args = new StoreArg[5 + _ownArgCount];
            ledger.CopyTo(args, 0);
            int next = 5;
            for (int i = 0; i < typed.Length; i++)
            {
                int shared = _sharedLedgerIndex[i];
                if (shared < 0)
                {
                    args[next++] = typed[i];
                }
                else if (!typed[i].Equals(ledger[shared]))
                {
                    throw new ArgumentException($"typed value {i + 1} ({typed[i].Value}) is not the ledger's value {shared + 1} ({ledger[shared].Value}) for the same column");
                }
            }
            statements.Add(new StoreStatement(_sql[0], args));
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
