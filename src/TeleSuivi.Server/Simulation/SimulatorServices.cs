using Microsoft.Extensions.Options;
using TeleSuivi.Devices.Profiles;
using TeleSuivi.Server.Broker;
using TeleSuivi.Server.Ingestion;

namespace TeleSuivi.Server.Simulation;

public static class SimulatorServices
{
    /// <summary>The device simulator and what it needs: the same manufacturer profiles ingestion decodes with.</summary>
    public static IServiceCollection AddDeviceSimulator(this IServiceCollection services)
    {
        services.AddOptions<SimulatorOptions>().BindConfiguration(SimulatorOptions.Section);
        services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section);
        services.AddOptions<IngestOptions>().BindConfiguration(IngestOptions.Section);
        services.AddSingleton(sp =>
        {
            var directory = sp.GetRequiredService<IOptions<IngestOptions>>().Value.ResolveProfilesDirectory();
            try
            {
                return new SimulatedFormats(ProfileEncoderRegistry.Load(directory));
            }
            catch (ProfileException ex)
            {
                throw new ConfigurationException($"cannot load the manufacturer profiles from {directory}: {ex.Message}", ex);
            }
        });
        services.AddSingleton<DeviceSimulator>();
        services.AddHostedService(sp => sp.GetRequiredService<DeviceSimulator>());
        return services;
    }
}
