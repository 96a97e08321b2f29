using System.CommandLine;
using System.CommandLine.Help;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.OutboxStress;
using EdgeKws.Tools.CommandLine;

// Usage (OutboxStoreKill_Tests passes "stress DB SEED"; docs/outbox.md quotes bench and journals):
//   stress <db-path> [seed]        enqueue forever (with some acks), one stdout line per durable step:
//                                  "O <next-seq> <recovered 0|1>"  store opened
//                                  "E <seq> <tag>"                 Enqueue returned Accepted
//                                  "a <seq>" / "A <seq>"           about to acknowledge / acknowledged
//   bench <db-path> <count> <payload-bytes>
//                                  enqueue <count> messages, then peek (batches of 100) and ack them
//                                  all; prints rates. The figures in docs/outbox.md come from this.
//   journals <dir> <quota-bytes> <count>
//                                  which SQLite journal setting keeps the files under a quota: the same
//                                  write storm (inserts, oldest-first deletes past the quota) against raw
//                                  SQLite in four settings, peak file sizes and rate (docs/outbox.md).
Argument<string> stressDbArgument = new("DB_PATH") { Description = "the outbox database file" };
Argument<int?> seedArgument = new("SEED") { Arity = ArgumentArity.ZeroOrOne, Description = "random seed (default: the process id)" };
var stress = new Command("stress", "Kill-test child: enqueue (and acknowledge some) forever, one stdout line per durable step.") { stressDbArgument, seedArgument };
stress.SetAction(parse => Stress(parse.GetRequiredValue(stressDbArgument), parse.GetValue(seedArgument) ?? Environment.ProcessId));

Argument<string> benchDbArgument = new("DB_PATH") { Description = "the outbox database file" };
Argument<int> benchCountArgument = new Argument<int>("COUNT") { Description = "messages to enqueue, then peek and acknowledge" }
    .MustBe(n => n >= 1, ">= 1");
Argument<int> payloadBytesArgument = new Argument<int>("PAYLOAD_BYTES") { Description = "bytes per message" }
    .MustBe(n => n >= 0, ">= 0");
var bench = new Command("bench", "Enqueue COUNT messages, then peek (batches of 100) and acknowledge them all; prints the rates (docs/outbox.md).")
{
    benchDbArgument, benchCountArgument, payloadBytesArgument,
};
bench.SetAction(parse => Bench(parse.GetRequiredValue(benchDbArgument), parse.GetValue(benchCountArgument), parse.GetValue(payloadBytesArgument)));

Argument<string> journalsDirArgument = new("DIR") { Description = "folder for the four databases" };
Argument<long> quotaBytesArgument = new Argument<long>("QUOTA_BYTES") { Description = "stored bytes past which the oldest rows are deleted" }
    .MustBe(n => n >= 1, ">= 1");
Argument<int> journalsCountArgument = new Argument<int>("COUNT") { Description = "inserts per setting" }
    .MustBe(n => n >= 1, ">= 1");
var journals = new Command("journals", "Which SQLite journal setting keeps the files under a quota: the same write storm in four settings, peak file sizes and rate (docs/outbox.md).")
{
    journalsDirArgument, quotaBytesArgument, journalsCountArgument,
};
journals.SetAction(parse => JournalStorm.Run(parse.GetRequiredValue(journalsDirArgument), parse.GetValue(quotaBytesArgument), parse.GetValue(journalsCountArgument)));

var root = new Command("EdgeKws.Device.OutboxStress", "Outbox kill-test child and the outbox rate and journal measurements of docs/outbox.md.")
{
    new HelpOption(), stress, bench, journals,
};
return ToolCommandLine.Invoke(root, args, Console.Out, Console.Error);

static int Stress(string path, int seed)
{
    // Unbuffered stdout: every line is one write(2), so a line printed is a line the parent sees,
    // even if SIGKILL arrives right after.
    using var stdout = Console.OpenStandardOutput();
    void Say(string line) => stdout.Write(Encoding.ASCII.GetBytes(line + "\n"));

    var random = new Random(seed);
    OutboxMessageClass[] classes = [OutboxMessageClass.Detection, OutboxMessageClass.Heartbeat, OutboxMessageClass.Sketch, OutboxMessageClass.ModelStatus];
    using var store = OutboxStore.Open(new OutboxOptions { DatabasePath = path, QuotaBytes = 1L << 30 });
    Say($"O {store.GetStats().NextSequence} {(store.CorruptionRecovery is null ? 0 : 1)}");
    if (store.CorruptionRecovery is not null)
        Say($"R {store.CorruptionRecovery.Reason}");

    long id = (long)seed << 32;
    var acking = new List<long>();
    while (true)
    {
        var cls = classes[random.Next(classes.Length)];
        byte[] payload = StressPayload.Create(id++, random.Next(16, 2048), random);
        var result = store.Enqueue(cls, $"edgekws/stress/{cls}", payload);
        if (!result.IsAccepted)
        {
            Say($"X {result.Status}");
            return 1;
        }

        Say($"E {result.Sequence} {StressPayload.Tag(payload)}");

        if (random.Next(4) == 0)
        {
            var batch = store.PeekBatch(random.Next(1, 6));
            acking.Clear();
            for (int i = 0; i < batch.Count; i++)
            {
                if (random.Next(3) != 0)
                    acking.Add(batch[i].Sequence);
            }

            foreach (long s in acking)
                Say($"a {s}");
            store.Acknowledge(acking.ToArray());
            foreach (long s in acking)
                Say($"A {s}");
        }
    }
}

static int Bench(string path, int count, int payloadBytes)
{
    var random = new Random(1);
    var payloads = new byte[64][];
    for (int i = 0; i < payloads.Length; i++)
        payloads[i] = StressPayload.Create(i, Math.Max(0, payloadBytes - StressPayload.HeaderBytes - StressPayload.TrailerBytes), random);

    using var store = OutboxStore.Open(new OutboxOptions { DatabasePath = path, QuotaBytes = 1L << 32 });
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < count; i++)
        store.Enqueue(OutboxMessageClass.Detection, "edgekws/bench/detection", payloads[i % payloads.Length]);
    double enqueueSeconds = sw.Elapsed.TotalSeconds;

    sw.Restart();
    int acked = 0;
    while (true)
    {
        var batch = store.PeekBatch(100);
        if (batch.Count == 0)
            break;
        var seqs = new long[batch.Count];
        for (int i = 0; i < seqs.Length; i++)
            seqs[i] = batch[i].Sequence;
        acked += store.Acknowledge(seqs);
    }

    double drainSeconds = sw.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"enqueue: {count} x {payloadBytes} B in {enqueueSeconds:F2} s = {count / enqueueSeconds:F0} msg/s ({enqueueSeconds / count * 1000:F2} ms each, one fsync each)"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"peek(100)+ack: {acked} in {drainSeconds:F2} s = {acked / drainSeconds:F0} msg/s"));
    return acked == count ? 0 : 1;
}
