using System.Threading.Channels;

namespace TeleSuivi.Server.Hosting;

/// <summary>The wait of a background loop that reads a channel and also has work on a timer.</summary>
public static class ChannelWaits
{
    /// <summary>
    /// Waits until the channel has something to read or <paramref name="wait"/> has passed (no wait when it is not
    /// positive). False when the host is stopping.
    /// </summary>
    public static async Task<bool> WaitToReadOrTimeoutAsync<T>(this ChannelReader<T> reader, TimeSpan wait, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (wait <= TimeSpan.Zero)
        {
            return !stoppingToken.IsCancellationRequested;
        }

        using var window = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        window.CancelAfter(wait);
        try
        {
            await reader.WaitToReadAsync(window.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The timer's work is due.
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return true;
    }
}
