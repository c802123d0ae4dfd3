using System.Diagnostics;

namespace TeleSuivi.Server.CommandLine;

/// <summary>
/// A one-line progress bar on standard error (standard output keeps the summary, for scripts), redrawn at most four
/// times a second; safe to call from several threads.
/// </summary>
public sealed class ConsoleProgress
{
    private const int Width = 30;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Lock gate = new();
    private long lastShown = -1;
    private string stage = string.Empty;

    public TimeSpan Elapsed => clock.Elapsed;

    /// <summary>Shows <paramref name="done"/> of <paramref name="total"/> <paramref name="unit"/> in <paramref name="name"/>.</summary>
    public void Report(string name, int done, int total, string unit)
    {
        lock (gate)
        {
            var newStage = !string.Equals(name, stage, StringComparison.Ordinal);
            if (!newStage && done != total && clock.ElapsedMilliseconds - lastShown < 250)
            {
                return;
            }

            if (newStage && stage.Length > 0)
            {
                Console.Error.WriteLine();
            }

            stage = name;
            lastShown = clock.ElapsedMilliseconds;
            var filled = total <= 0 ? Width : (int)((long)done * Width / total);
            Console.Error.Write(FormattableString.Invariant(
                $"\r{name,-30} [{new string('#', filled)}{new string('.', Width - filled)}] {done}/{total} {unit} {(total <= 0 ? 100 : 100.0 * done / total):F0}% {clock.Elapsed.TotalSeconds:F0} s"));
        }
    }

    /// <summary>One stage as an <see cref="IProgress{T}"/> of the count done, for code that only counts; the line ends at the total.</summary>
    public IProgress<int> Stage(string name, int total, string unit) => new StageProgress(this, name, total, unit);

    /// <summary>Ends the bar's line.</summary>
    public void Finish()
    {
        lock (gate)
        {
            if (stage.Length > 0)
            {
                Console.Error.WriteLine();
                stage = string.Empty;
            }
        }
    }

    private sealed class StageProgress(ConsoleProgress bar, string name, int total, string unit) : IProgress<int>
    {
        public void Report(int value)
        {
            bar.Report(name, value, total, unit);
            if (value >= total)
            {
                bar.Finish();
            }
        }
    }
}

/// <summary>Reports on the caller's thread (<see cref="Progress{T}"/> posts to the thread pool), so the progress line is complete before the verdict is printed.</summary>
internal sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
