namespace EdgeKws.Gateway.Broker;

/// <summary>The peer announced an MQTT packet larger than the broker accepts; the connection is dropped.</summary>
public sealed class MqttPacketTooLargeException(long announcedBytes, int maxBytes)
    : IOException($"MQTT packet of {announcedBytes} bytes refused: the maximum is {maxBytes} bytes")
{
    /// <summary>The remaining length the fixed header announced.</summary>
    public long AnnouncedBytes { get; } = announcedBytes;
}

/// <summary>
/// A read-through stream that follows MQTT's framing (fixed header byte, remaining length as a variable byte integer,
/// body) in the bytes it hands out, and throws <see cref="MqttPacketTooLargeException"/> instead of handing out the last
/// length byte of a packet whose remaining length exceeds the maximum. The reader (MQTTnet's channel adapter) reads the
/// length byte by byte and allocates the body only after the last one, so an oversize packet is refused before a byte
/// of it is buffered. Writes pass through. One reader at a time (MQTTnet reads each connection from one loop).
/// </summary>
public sealed class MqttPacketSizeLimitStream : Stream
{
    private readonly Stream _inner;
    private readonly int _maxPacketBytes;
    private readonly Action<long> _onTooLarge;
    private State _state = State.FixedHeader;
    private long _length;
    private int _shift;
    private long _bodyLeft;

    /// <param name="inner">The connection's stream (owned: disposed with this one).</param>
    /// <param name="maxPacketBytes">Largest remaining length accepted.</param>
    /// <param name="onTooLarge">Called once with the announced length before the refusal is thrown.</param>
    public MqttPacketSizeLimitStream(Stream inner, int maxPacketBytes, Action<long> onTooLarge)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(onTooLarge);
        _inner = inner;
        _maxPacketBytes = maxPacketBytes;
        _onTooLarge = onTooLarge;
    }

    private enum State
    {
        FixedHeader,
        RemainingLength,
        Body,
    }

    /// <inheritdoc />
    public override bool CanRead => _inner.CanRead;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => _inner.CanWrite;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        Inspect(buffer[..n]);
        return n;
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Inspect(buffer.Span[..n]);
        return n;
    }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer) => _inner.Write(buffer);

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.WriteAsync(buffer, offset, count, cancellationToken);

    /// <inheritdoc />
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.WriteAsync(buffer, cancellationToken);

    /// <inheritdoc />
    public override void Flush() => _inner.Flush();

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void Inspect(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Length)
        {
            switch (_state)
            {
                case State.FixedHeader:
                    i++;
                    _length = 0;
                    _shift = 0;
                    _state = State.RemainingLength;
                    break;
                case State.RemainingLength:
                    byte b = bytes[i++];
                    _length |= (long)(b & 0x7F) << _shift;
                    _shift += 7;
                    if ((b & 0x80) != 0)
                    {
                        if (_shift >= 28)
                        {
                            // A fifth length byte: malformed (MQTT allows four). MQTTnet refuses it too; refuse it here.
                            throw new IOException("malformed MQTT remaining length (more than four bytes)");
                        }
                        if (_length > _maxPacketBytes)
                        {
                            Refuse(); // already over the limit with more length bytes to come
                        }
                        break;
                    }
                    if (_length > _maxPacketBytes)
                    {
                        Refuse();
                    }
                    _bodyLeft = _length;
                    _state = _bodyLeft == 0 ? State.FixedHeader : State.Body;
                    break;
                default:
                    int take = (int)Math.Min(_bodyLeft, bytes.Length - i);
                    i += take;
                    _bodyLeft -= take;
                    if (_bodyLeft == 0)
                    {
                        _state = State.FixedHeader;
                    }
                    break;
            }
        }
    }

    private void Refuse()
    {
        _onTooLarge(_length);
        throw new MqttPacketTooLargeException(_length, _maxPacketBytes);
    }
}
