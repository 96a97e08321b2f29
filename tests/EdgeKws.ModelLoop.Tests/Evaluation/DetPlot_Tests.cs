using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

public class DetPlot_Tests
{
    private static readonly StreamingDetPoint[] Curve = [new(0.1f, 40, 2, 0, 50), new(0.5f, 6, 2, 2, 50), new(0.9f, 1, 2, 10, 50), new(0.99f, 0, 2, 40, 50)];

    /// <summary>Pixels within <paramref name="tolerance"/> of a colour on every channel (antialiased edges differ).</summary>
    private static int Count(PngImage image, (byte R, byte G, byte B) colour, int tolerance = 24, int x0 = 0, int y0 = 0, int x1 = int.MaxValue, int y1 = int.MaxValue)
    {
        int n = 0;
        for (int y = y0; y < Math.Min(y1, image.Height); y++)
        {
            for (int x = x0; x < Math.Min(x1, image.Width); x++)
            {
                int i = ((y * image.Width) + x) * 3;
                if (Math.Abs(image.Rgb[i] - colour.R) <= tolerance && Math.Abs(image.Rgb[i + 1] - colour.G) <= tolerance && Math.Abs(image.Rgb[i + 2] - colour.B) <= tolerance)
                {
                    n++;
                }
            }
        }
        return n;
    }

    [Fact]
    public void Det_plot_is_a_png_of_the_requested_size_with_the_curve_the_deployed_point_and_the_goal_in_it()
    {
        byte[] png = DetPlot.Render("TEST", [new DetPlotSeries("A", Curve, Curve[2], 200, 10, 10)], negativeHours: 2, width: 320, height: 240);
        PngImage image = PngDecoder.Decode(png);
        Assert.Equal(320, image.Width);
        Assert.Equal(240, image.Height);
        int curve = Count(image, (200, 10, 10));
        Assert.True(curve > 100, $"only {curve} pixels of the curve colour");
        int goal = Count(image, DetPlot.GoalColour);
        Assert.True(goal > 50, $"only {goal} pixels of the goal colour");
        // The curve is inside the picture, not in the margins: most of its pixels are away from the outer 10 %.
        int inner = Count(image, (200, 10, 10), x0: 32, y0: 24, x1: 288, y1: 216);
        Assert.True(inner > curve / 2, $"{inner} of {curve} curve pixels inside the plot area");
    }

    [Fact]
    public void Two_series_are_drawn_each_in_its_own_colour()
    {
        StreamingDetPoint[] other = [new(0.1f, 20, 2, 0, 50), new(0.5f, 3, 2, 5, 50), new(0.99f, 0, 2, 45, 50)];
        byte[] png = DetPlot.Render("GATE", [new DetPlotSeries("CURRENT", Curve, Curve[1], 120, 120, 120), new DetPlotSeries("CANDIDATE", other, other[1], 210, 60, 30)], negativeHours: 10);
        PngImage image = PngDecoder.Decode(png);
        Assert.Equal((DetPlot.DefaultWidth, DetPlot.DefaultHeight), (image.Width, image.Height));
        Assert.True(Count(image, (210, 60, 30), tolerance: 12) > 100);
        Assert.True(Count(image, (120, 120, 120), tolerance: 6) > 100);
    }

    [Fact]
    public void Refuses_no_series_and_a_too_small_picture()
    {
        Assert.Throws<ArgumentException>(() => DetPlot.Render("X", [], 1));
        Assert.Throws<ArgumentException>(() => DetPlot.Render("X", [new DetPlotSeries("A", Curve, Curve[0], 1, 2, 3)], 1, width: 100, height: 100));
    }
}
