using System.Net;
using System.Text;
using System.Text.Json;
using EdgeKws.Gateway.Host;

namespace EdgeKws.Gateway.Tests.Host;

/// <summary>
/// <c>model ...</c> in process (<see cref="ModelCli.RunAsync"/>) against a recording HTTP handler: help, usage errors (exit 2, stderr,
/// naming the option), and the requests the options turn into. The commands against a real gateway are in the rollout tests.
/// </summary>
public sealed class ModelCli_Tests
{
    [Fact]
    public async Task Help_exits_0_and_lists_the_commands_and_each_commands_options()
    {
        (int code, string stdout, string stderr) = await RunAsync(["--help"]);
        Assert.Equal(0, code);
        foreach (string command in new[] { "train", "register", "fine-tune", "list", "show", "rollout", "rollback", "status" })
        {
            Assert.Contains(command, stdout, StringComparison.Ordinal);
        }
        Assert.Equal("", stderr);
        (code, _, stderr) = await RunAsync([]);
        Assert.Equal(2, code);
        Assert.Contains("Required command was not provided", stderr, StringComparison.Ordinal);

        (code, stdout, _) = await RunAsync(["rollout", "--help"]);
        Assert.Equal(0, code);
        foreach (string option in new[] { "--version", "--canary", "--wave", "--soak-hours", "--gateway", "--token-file" })
        {
            Assert.Contains(option, stdout, StringComparison.Ordinal);
        }
        (code, stdout, _) = await RunAsync(["fine-tune", "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("--replay-per-epoch", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "status", "--rollout", "0" }, "--rollout must be a rollout id (1 or more), got 0")]
    [InlineData(new[] { "rollout", "--version", "2.0.0", "--soak-hours", "Infinity" }, "--soak-hours must be a number, got 'Infinity'")]
    [InlineData(new[] { "train", "--version", "2.0.0", "--dataset", "d", "--streams", "s", "--threshold", "high" }, "--threshold must be a number, got 'high'")]
    [InlineData(new[] { "train", "--dataset", "d", "--streams", "s" }, "Option '--version' is required")]
    [InlineData(new[] { "list", "--gateway", "not a url" }, "--gateway must be an absolute http(s) URL, got 'not a url'")]
    [InlineData(new[] { "list", "--bogus" }, "'--bogus'")]
    [InlineData(new[] { "deploy" }, "'deploy'")]
    public async Task A_usage_error_exits_2_on_stderr_naming_the_option_and_sends_nothing(string[] args, string expected)
    {
        var handler = new RecordingHandler();
        (int code, string stdout, string stderr) = await RunAsync(args, handler);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Train_options_become_the_job_request_and_no_wait_returns_after_queueing()
    {
        var handler = new RecordingHandler { Reply = (HttpStatusCode.Accepted, """{"id":"job-1"}""") };
        (int code, string stdout, string stderr) = await RunAsync(["train", "--gateway", "http://gw.test:9000/", "--version", "2.0.0", "--dataset", "reviewed-1",
            "--streams", "streams.json", "--tiny", "--epochs", "3", "--fa-margin", "0.5", "--no-wait"], handler);
        Assert.True(code == 0, stderr);
        Assert.Equal("job job-1 queued: Train 2.0.0", stdout.Trim());
        (HttpMethod method, Uri uri, JsonElement body) = Assert.Single(handler.Requests);
        Assert.Equal((HttpMethod.Post, "http://gw.test:9000/api/model-jobs"), (method, uri.ToString()));
        Assert.Equal("2.0.0", body.GetProperty("modelVersion").GetString());
        Assert.Equal("kws", body.GetProperty("modelId").GetString());
        Assert.Equal("reviewed-1", body.GetProperty("dataset").GetString());
        Assert.Equal("streams.json", body.GetProperty("evaluationSet").GetString());
        Assert.Equal(42, body.GetProperty("seed").GetInt32());
        Assert.True(body.GetProperty("tiny").GetBoolean());
        Assert.Equal(3, body.GetProperty("epochs").GetInt32());
        Assert.Equal(0.5, body.GetProperty("faMargin").GetDouble());
        Assert.False(body.TryGetProperty("threshold", out JsonElement threshold) && threshold.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task Rollout_takes_comma_separated_canaries_and_one_wave_per_option()
    {
        var handler = new RecordingHandler { Reply = (HttpStatusCode.Created, """{"id":7}""") };
        (int code, _, string stderr) = await RunAsync(["rollout", "--version", "2.0.0", "--canary", "dev-a,dev-b", "--wave", "dev-c", "--wave", "dev-d, dev-e",
            "--soak-hours", "4"], handler);
        Assert.True(code == 0, stderr);
        (_, Uri uri, JsonElement body) = Assert.Single(handler.Requests);
        Assert.Equal("http://127.0.0.1:8080/api/rollouts", uri.ToString());
        Assert.Equal(["dev-a", "dev-b"], body.GetProperty("canaries").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal([["dev-c"], ["dev-d", "dev-e"]], body.GetProperty("waves").EnumerateArray().Select(w => w.EnumerateArray().Select(e => e.GetString()!).ToArray()));
        Assert.Equal(4.0, body.GetProperty("soakListeningHours").GetDouble());
    }

    [Fact]
    public async Task A_refused_request_exits_3_and_an_unreachable_gateway_exits_1()
    {
        var handler = new RecordingHandler { Reply = (HttpStatusCode.Conflict, """{"error":"failed the offline gate"}""") };
        (int code, _, string stderr) = await RunAsync(["rollback", "--rollout", "5", "--reason", "field reports"], handler);
        Assert.Equal(ModelCli.Refused, code);
        Assert.Contains("409 failed the offline gate", stderr, StringComparison.Ordinal);
        Assert.Equal("http://127.0.0.1:8080/api/rollouts/5/rollback", Assert.Single(handler.Requests).Uri.ToString());

        (code, _, stderr) = await RunAsync(["list", "--gateway", "http://127.0.0.1:1/"]);
        Assert.Equal(1, code);
        Assert.Contains("cannot reach the gateway at http://127.0.0.1:1/", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string[] args, HttpMessageHandler? handler = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await ModelCli.RunAsync(args, stdout, stderr, handler);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<(HttpMethod Method, Uri Uri, JsonElement Body)> Requests { get; } = [];

        public (HttpStatusCode Status, string Json) Reply { get; init; } = (HttpStatusCode.OK, "[]");

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string body = request.Content is null ? "null" : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Add((request.Method, request.RequestUri!, JsonDocument.Parse(body).RootElement.Clone()));
            return new HttpResponseMessage(Reply.Status) { Content = new StringContent(Reply.Json, Encoding.UTF8, "application/json") };
        }
    }
}
