using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace EdgeKws.Tools.CommandLine;

/// <summary>
/// Runs a tool's System.CommandLine command with the exit codes of docs/cli.md: 0 success, 2 usage error (every parse or
/// validation error, message on stderr), otherwise what the command's action returns (1 when it ran and failed).
/// Linked into each tool under tools/ (one source file, no shared assembly to version).
/// </summary>
internal static partial class ToolCommandLine
{
    /// <summary>Exit code of a usage error: unknown option, missing required option, value unparsable or out of range.</summary>
    public const int UsageError = 2;

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and invokes the parsed command's action.</summary>
    public static int Invoke(Command root, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(stderr);

        // No response files: a value starting with '@' stays a value, as with the parsers this replaced.
        ParseResult parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Action is ParseErrorAction)
        {
            foreach (ParseError error in parse.Errors)
            {
                // "unknown option '--x'" as the replaced parsers said (tests and people grep for it), for System.CommandLine's
                // "Unrecognized command or argument '--x'.".
                Match unknown = Unrecognized().Match(error.Message);
                string message = !unknown.Success ? error.Message
                    : $"unknown {(unknown.Groups[1].Value.StartsWith('-') ? "option" : "argument")} '{unknown.Groups[1].Value}'.";
                stderr.WriteLine($"{root.Name}: {message}");
            }

            stderr.WriteLine($"Run '{CommandPath(parse.CommandResult)} --help' for usage.");
            return UsageError;
        }

        // No default exception handler: a command catches what it expects and returns 1; anything else is a bug and
        // surfaces as such (as before the move to System.CommandLine).
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    /// <summary>
    /// Makes <paramref name="options"/> required on <paramref name="command"/>: a missing one is a usage error that names it
    /// with its value ("--model MANIFEST is required."), which System.CommandLine's own Required message does not.
    /// </summary>
    public static Command Requires(this Command command, params Option[] options)
    {
        foreach (Option option in options)
        {
            option.Description = $"{option.Description} (required)";
        }

        command.Validators.Add(result =>
        {
            foreach (Option option in options)
            {
                if (result.GetResult(option) is null or { Implicit: true })
                {
                    result.AddError($"{option.Name}{(option.HelpName is { } value ? " " + value : "")} is required.");
                }
            }
        });
        return command;
    }

    /// <summary>
    /// Adds a validator: the value must satisfy <paramref name="isValid"/>, else the usage error "OPTION must be RANGE (got V).".
    /// It checks the default value too, and is not called for an absent optional (null) value.
    /// </summary>
    public static Option<T> MustBe<T>(this Option<T> option, Func<T, bool> isValid, string range)
    {
        option.Validators.Add(result =>
        {
            T? value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return; // unparsable: System.CommandLine reports that itself, naming the option
            }

            if (value is not null && !isValid(value))
            {
                result.AddError($"{option.Name} must be {range} (got {Format(value)}).");
            }
        });
        return option;
    }

    /// <summary>
    /// The positional counterpart of <see cref="MustBe{T}(Option{T}, Func{T, bool}, string)"/>: the usage error reads
    /// "ARGUMENT must be RANGE (got V).".
    /// </summary>
    public static Argument<T> MustBe<T>(this Argument<T> argument, Func<T, bool> isValid, string range)
    {
        argument.Validators.Add(result =>
        {
            T? value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return; // unparsable: System.CommandLine reports that itself, naming the argument
            }

            if (value is not null && !isValid(value))
            {
                result.AddError($"{argument.Name} must be {range} (got {Format(value)}).");
            }
        });
        return argument;
    }

    private static string Format<T>(T value) => value is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : value?.ToString() ?? "";

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Insert(0, c.Command.Name);
            }
        }

        return string.Join(' ', names);
    }

    [GeneratedRegex(@"^Unrecognized command or argument '(.*)'\.$")]
    private static partial Regex Unrecognized();
}
