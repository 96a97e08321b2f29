namespace EdgeKws.Device.Uplink;

/// <summary>Counters since the uplink was created.</summary>
/// <param name="ConnectAttempts">CONNECT attempts, successful or not.</param>
/// <param name="Connects">Successful connections (CONNACK success).</param>
/// <param name="Published">PUBLISH packets sent for outbox items, including re-sends.</param>
/// <param name="Resent">PUBLISH packets of a sequence that had been sent before (re-sends after a lost PUBACK).</param>
/// <param name="Acknowledged">Items acknowledged to the outbox after a success PUBACK.</param>
/// <param name="Refused">Non-success PUBACKs.</param>
/// <param name="DeadLettered">Items handed to <see cref="IOutboxQueue.DeadLetter"/>.</param>
public readonly record struct MqttUplinkStats(long ConnectAttempts, long Connects, long Published, long Resent, long Acknowledged, long Refused, long DeadLettered);
