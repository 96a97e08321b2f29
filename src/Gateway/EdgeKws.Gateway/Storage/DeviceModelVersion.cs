using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Which messages tell the gateway the model a device runs now (the <c>devices.model_version</c> column):
/// stored as <c>coalesce(current, stored, heard)</c>.
/// </summary>
internal static class DeviceModelVersion
{
    /// <summary>
    /// The version a heartbeat or model status reports: what runs now, so it replaces the stored one. A detection's
    /// version is only <see cref="Heard"/>: the agent's audio pipeline queues detections through its own writer
    /// thread while the model worker writes a swap's status straight to the outbox, so a detection of the old model
    /// can arrive after the status of the new one. Taking it as current would show the device on the old version
    /// until its next heartbeat (and a rollout created in that window would expect the old version back on rollback).
    /// </summary>
    public static string? Current(object body) => body switch
    {
        Heartbeat h => h.ModelVersion,
        ModelStatus ms => ms.ActiveModelVersion,
        _ => null,
    };

    /// <summary>The version a detection was made with: the device's version only while nothing <see cref="Current"/> is known.</summary>
    public static string? Heard(object body) => body is DetectionReport d ? d.ModelVersion : null;
}
