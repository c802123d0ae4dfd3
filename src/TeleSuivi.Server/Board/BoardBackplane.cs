using StackExchange.Redis;

namespace TeleSuivi.Server.Board;

/// <summary>Bound from the <c>Redis</c> configuration section (<c>TELESUIVI_REDIS__*</c>).</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>
    /// A StackExchange.Redis configuration string (<c>redis:6379,password=…,ssl=true</c>). Set: the triage hub sends
    /// every board message through Redis, so a change made on any node reaches the boards connected to every web node.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>Prefix of the Redis channels, so several TeleSuivi deployments can share one Redis.</summary>
    public string ChannelPrefix { get; set; } = "telesuivi";
}

public static class BoardBackplane
{
    /// <summary>SignalR, with the Redis backplane when <see cref="RedisOptions.Configuration"/> is set.</summary>
    public static IServiceCollection AddTriageSignalR(this IServiceCollection services, IConfiguration configuration)
    {
        var signalR = services.AddSignalR();
        var redis = configuration.GetSection(RedisOptions.Section).Get<RedisOptions>() ?? new RedisOptions();
        if (!string.IsNullOrWhiteSpace(redis.Configuration))
        {
            ConfigurationOptions parsed;
            try
            {
                parsed = ConfigurationOptions.Parse(redis.Configuration);
            }
            catch (ArgumentException ex)
            {
                throw new ConfigurationException($"Redis:Configuration '{redis.Configuration}' is not valid: {ex.Message}", ex);
            }

            // A node that starts while Redis is down keeps retrying in the background instead of refusing to start; a
            // push that fails meanwhile is logged (BoardNotifier), the change is stored, and boards get it in their next snapshot.
            parsed.AbortOnConnectFail = false;
            parsed.ChannelPrefix = RedisChannel.Literal(redis.ChannelPrefix);
            signalR.AddStackExchangeRedis(o => o.Configuration = parsed);
        }

        return services;
    }
}
