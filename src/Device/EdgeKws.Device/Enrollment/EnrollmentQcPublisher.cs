using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// Puts an <see cref="EnrollmentQcReport"/> into the outbox. This is the only thing of an
/// enrollment that leaves the device: the report type has no field for audio, features or the
/// template, so there is nothing to leak by mistake.
/// </summary>
public static class EnrollmentQcPublisher
{
    /// <summary>Validates and enqueues the report on <c>edgekws/v1/{deviceId}/enrollment-qc</c>.</summary>
    /// <exception cref="ArgumentException">The report fails <see cref="EnrollmentQcReport.TryValidate"/>; the message says why.</exception>
    public static EnqueueResult Enqueue(OutboxStore outbox, EnrollmentQcReport report)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        ArgumentNullException.ThrowIfNull(report);
        if (!report.TryValidate(out string reason))
        {
            throw new ArgumentException("enrollment QC report: " + reason, nameof(report));
        }

        return outbox.Enqueue(OutboxMessageClass.EnrollmentQc, Topics.Uplink(report.DeviceId, MessageKind.EnrollmentQc), WireJson.Serialize(report));
    }
}
