namespace EdgeKws.Acoustics;

/// <summary>A point in a room's coordinates, in metres: X along the length, Y along the width, Z up from the floor.</summary>
public readonly record struct Point3(double X, double Y, double Z)
{
    /// <summary>Euclidean distance to <paramref name="other"/>, in metres.</summary>
    public double DistanceTo(Point3 other)
    {
        double dx = X - other.X, dy = Y - other.Y, dz = Z - other.Z;
        return Math.Sqrt(dx * dx + dy * dy + dz * dz);
    }
}
