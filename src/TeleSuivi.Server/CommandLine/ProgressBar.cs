using System.Diagnostics;

namespace TeleSuivi.Server.CommandLine;

/// <summary>A one-line progress bar on standard error, redrawn at most four times a second.</summary>
public sealed class ProgressBar(int total, string unit) : IProgress<int>
{
    private const int Width = 30;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private long lastShown = -1;

    public void Report(int value)
    {
        if (value != total && lastShown >= 0 && clock.ElapsedMilliseconds - lastShown <= 250)
        {
            return;
        }

        lastShown = clock.ElapsedMilliseconds;
        var filled = total == 0 ? Width : (int)((long)value * Width / total);
        Console.Error.Write(FormattableString.Invariant(
            $"\r[{new string('#', filled)}{new string('.', Width - filled)}] {value}/{total} {unit} {(total == 0 ? 100 : 100.0 * value / total):F0}% {clock.Elapsed.TotalSeconds:F0} s"));
        if (value == total)
        {
            Console.Error.WriteLine();
        }
    }
}
