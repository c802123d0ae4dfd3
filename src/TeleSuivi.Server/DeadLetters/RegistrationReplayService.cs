using System.Threading.Channels;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.DeadLetters;

/// <summary>
/// When devices or assignments are imported, the readings that were dead-lettered only because the device was
/// unknown or unassigned are replayed automatically.
/// </summary>
public sealed partial class RegistrationReplayService(DeviceRegistry registry, DeadLetterReplayer replayer, ILogger<RegistrationReplayService> logger) : BackgroundService
{
    // One pending signal is enough: a replay started after the last import sees every import before it.
    private readonly Channel<bool> signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        void OnChanged() => signals.Writer.TryWrite(true);
        registry.Changed += OnChanged;
        try
        {
            await foreach (var _ in signals.Reader.ReadAllAsync(stoppingToken))
            {
                foreach (var code in RejectionCodes.CuredByRegistration)
                {
                    try
                    {
                        var result = await replayer.ReplayAsync(new DeadLetterQuery { ReasonCode = code }, stoppingToken);
                        if (result.Replayed + result.RejectedAgain > 0)
                        {
                            LogReplayed(code, result.Replayed, result.RejectedAgain);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        LogReplayFailed(code, ex.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            registry.Changed -= OnChanged;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registry changed: replayed {Replayed} dead letter(s) of reason {Code}; {Rejected} still rejected")]
    private partial void LogReplayed(string code, int replayed, int rejected);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replay of dead letters of reason {Code} after a registry change failed: {Reason} (run 'telesuivi deadletter replay')")]
    private partial void LogReplayFailed(string code, string reason);
}
