using System.Globalization;

namespace EdgeKws.LocalServers;

/// <summary>
/// A real PostgreSQL server for tests and the ingest bench: initdb into a temp directory, started with pg_ctl on a free
/// loopback port (as the <c>postgres</c> user when running as root), trust authentication for user <c>edgekws</c> on
/// 127.0.0.1 only, stopped and deleted on dispose. Fails with a clear message when PostgreSQL is not installed.
/// </summary>
public sealed class LocalPostgres : IDisposable
{
    private const string ServerUser = "postgres";
    private readonly string _bin;
    private readonly string _dir;
    private bool _stopped;

    private LocalPostgres(string bin, string dir, int port)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
    }

    /// <summary>The loopback port.</summary>
    public int Port { get; }

    /// <summary>The superuser the tests connect as.</summary>
    public const string User = "edgekws";

    /// <summary>Finds the server binaries (Debian: /usr/lib/postgresql/N/bin), newest major version first.</summary>
    public static string? FindBinDirectory() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out int v) ? v : 0)
                .FirstOrDefault()
            : null;

    /// <summary>initdb + pg_ctl start; throws naming what is missing.</summary>
    public static LocalPostgres Start()
    {
        string bin = FindBinDirectory() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin: install them with 'apt-get install -y postgresql'");
        string dir = Path.Combine(Path.GetTempPath(), "edgekws-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        if (ServerProcess.IsRoot)
        {
            // PostgreSQL refuses to run as root: the data directory belongs to the postgres user.
            ServerProcess.Run("chown", [ServerUser + ":" + ServerUser, dir]);
        }
        int port = LoopbackPorts.Free();
        var pg = new LocalPostgres(bin, dir, port);
        try
        {
            ServerProcess.Run(Path.Combine(bin, "initdb"), ["-D", pg.DataDirectory, "-U", User, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], ServerUser);
            ServerProcess.Run(Path.Combine(bin, "pg_ctl"),
            [
                "-D", pg.DataDirectory, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60",
                "-o", $"-c listen_addresses=127.0.0.1 -p {port.ToString(CultureInfo.InvariantCulture)} -k {dir} -c max_connections=200",
                "start",
            ], ServerUser, TimeSpan.FromSeconds(90));
            return pg;
        }
        catch
        {
            pg.Dispose();
            throw;
        }
    }

    private string DataDirectory => Path.Combine(_dir, "data");

    /// <summary>An Npgsql connection string for <paramref name="database"/>. The timeouts are liveness bounds only: a
    /// connect or a batch commit on a loaded CI machine can take far longer than on a quiet one.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username={User};Database={database};Timeout=60;Command Timeout=300";

    /// <summary>Creates a fresh database and returns its name.</summary>
    public string CreateDatabase(string prefix = "gw")
    {
        string name = prefix + "_" + Guid.NewGuid().ToString("N")[..12];
        Sql("postgres", $"CREATE DATABASE {name}");
        return name;
    }

    /// <summary>Runs SQL with psql and returns its unaligned output.</summary>
    public string Sql(string database, string sql) =>
        ServerProcess.Run(Path.Combine(_bin, "psql"),
            ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]).Trim();

    /// <summary>Stops the server (fast shutdown: connections are dropped), keeping its data: a database outage.</summary>
    public void StopServer() =>
        ServerProcess.Run(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "stop"], ServerUser, TimeSpan.FromSeconds(90));

    /// <summary>Starts a server stopped by <see cref="StopServer"/> again, on the same port and data.</summary>
    public void StartServer() =>
        ServerProcess.Run(Path.Combine(_bin, "pg_ctl"),
        [
            "-D", DataDirectory, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60",
            "-o", $"-c listen_addresses=127.0.0.1 -p {Port.ToString(CultureInfo.InvariantCulture)} -k {_dir} -c max_connections=200",
            "start",
        ], ServerUser, TimeSpan.FromSeconds(90));

    /// <summary>Stops the server (fast shutdown) and deletes its directory.</summary>
    public void Dispose()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                ServerProcess.Run(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "stop"], ServerUser);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // a leftover temp directory must not fail a test
            }
        }
    }
}
