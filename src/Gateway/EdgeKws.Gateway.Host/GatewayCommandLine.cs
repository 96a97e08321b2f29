using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace EdgeKws.Gateway.Host;

/// <summary>
/// How the gateway's commands (<c>EdgeKws.Gateway.Host device|token|model ...</c>) run on System.CommandLine: a parse error (unknown
/// option, missing required option, unparsable or out-of-range value) prints on stderr and exits 2; <c>--help</c> prints on stdout and
/// exits 0; otherwise the command's own exit code. Commands that open the store take configuration overrides after their own
/// arguments (<see cref="AcceptSettings"/>, <see cref="Settings"/>), as the gateway itself does.
/// </summary>
public static class GatewayCommandLine
{
    /// <summary>Exit code of a usage error.</summary>
    public const int UsageError = 2;

    /// <summary>Parses <paramref name="args"/> with <paramref name="command"/> and runs the chosen action. <c>--help</c> comes with a
    /// <see cref="RootCommand"/> (it reaches every subcommand): pass one.</summary>
    public static async Task<int> InvokeAsync(RootCommand command, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(stderr);
        // No @response-file expansion: every token means what it says (a device id or a path may start with '@').
        ParseResult parsed = command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        string name = string.Join(' ', Path(parsed.CommandResult));
        if (parsed.Action is ParseErrorAction)
        {
            foreach (ParseError error in parsed.Errors)
            {
                await stderr.WriteLineAsync($"{name}: {error.Message}").ConfigureAwait(false);
            }
            await stderr.WriteLineAsync($"Run '{name} --help' for usage.").ConfigureAwait(false);
            return UsageError;
        }
        if (parsed.CommandResult.Command is { TreatUnmatchedTokensAsErrors: false } and not RootCommand && !TrySettings(parsed.UnmatchedTokens, out _, out string? problem))
        {
            await stderr.WriteLineAsync($"{name}: {problem}").ConfigureAwait(false);
            return UsageError;
        }
        // The gateway handles SIGTERM itself (graceful host shutdown), and an unexpected exception crashes as it always did.
        return await parsed.InvokeAsync(new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        }).ConfigureAwait(false);
    }

    /// <summary>Lets <paramref name="command"/> take configuration overrides (<c>--Gateway:Section:Key=value</c> or
    /// <c>--Gateway:Section:Key value</c>, <c>--Logging:...</c> likewise) besides its own options; any other extra token is a usage
    /// error.</summary>
    public static T AcceptSettings<T>(T command) where T : Command
    {
        ArgumentNullException.ThrowIfNull(command);
        command.TreatUnmatchedTokensAsErrors = false;
        return command;
    }

    /// <summary>The configuration overrides given to a command made with <see cref="AcceptSettings"/> (checked before its action runs).</summary>
    public static string[] Settings(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return TrySettings(parse.UnmatchedTokens, out string[] settings, out string? problem) ? settings : throw new InvalidOperationException(problem);
    }

    private static bool TrySettings(IReadOnlyList<string> tokens, out string[] settings, out string? problem)
    {
        var list = new List<string>();
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (!t.StartsWith("--Gateway:", StringComparison.Ordinal) && !t.StartsWith("--Logging:", StringComparison.Ordinal))
            {
                settings = [];
                problem = $"unexpected argument '{t}' (configuration overrides look like --Gateway:Section:Key=value)";
                return false;
            }
            list.Add(t);
            if (!t.Contains('=', StringComparison.Ordinal) && i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                list.Add(tokens[++i]);
            }
        }
        settings = [.. list];
        problem = null;
        return true;
    }

    private static IEnumerable<string> Path(CommandResult? result)
    {
        var names = new Stack<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Push(c.Command is RootCommand ? "EdgeKws.Gateway.Host" : c.Command.Name);
            }
        }
        return names;
    }
}
