using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using TeleSuivi.Tests.Infrastructure;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Broker;

/// <summary>The embedded broker's TLS listener with a certificate made by the test, its plain listener turned off.</summary>
public sealed class EmbeddedBrokerTlsTests
{
    [Fact]
    public async Task TlsOnly_DeviceTrustingTheCertificate_IsStored_PlainPortClosed_UntrustingClientRefused()
    {
        var folder = Directory.CreateTempSubdirectory("telesuivi-tls-").FullName;
        using var certificate = SelfSigned();
        var pfx = Path.Combine(folder, "broker.pfx");
        await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pkcs12, "pfx-password"), TestContext.Current.CancellationToken);
        var tlsPort = LoopbackPort.Free();
        await using var host = TeleSuiviProcess.Start("serve", environment: new Dictionary<string, string>
        {
            ["TELESUIVI_BROKER__EMBEDDEDTLSCERTIFICATE"] = pfx,
            ["TELESUIVI_BROKER__EMBEDDEDTLSPASSWORD"] = "pfx-password",
            ["TELESUIVI_BROKER__EMBEDDEDTLSPORT"] = tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TELESUIVI_BROKER__EMBEDDEDPLAINLISTENER"] = "false",
        });

        // Ready means the ingest worker connected, itself over TLS to its own broker.
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        var (_, description) = await HostProbes.ReadinessCheckAsync(host.BaseUrl, "broker");
        Assert.Contains($"mqtts://127.0.0.1:{tlsPort}", description, StringComparison.Ordinal);
        var device = $"dt-{Guid.NewGuid():N}";
        await RegistryBundles.ImportAsync(host.BaseUrl, RegistryBundles.PatientWithDevice($"pt-{device}", device, DateTimeOffset.UtcNow.AddDays(-1)));
        var secret = await DeviceAccounts.IssueDeviceAsync(host.DataDirectory, device);

        var (client, result) = await DeviceAccounts.ConnectAsync("127.0.0.1", tlsPort, device, secret, tls => tls.UseTls().WithCertificateValidationHandler(e => TrustedBy(certificate, e)));
        Assert.Equal(MqttClientConnectResultCode.Success, result);
        using (client)
        {
            var published = await DeviceAccounts.PublishAsync(client!, $"telesuivi/v1/devices/withings/{device}", EmbeddedBrokerAuthenticationTests.Withings(DateTimeOffset.UtcNow.AddMinutes(-1), 8000));
            Assert.True(published.IsSuccess, $"{published.ReasonCode}");
        }

        await Poll.UntilAsync(() => StoredData.ObservationsAsync(host.DataDirectory, $"Patient/pt-{device}"), o => o.Count == 1, TimeSpan.FromSeconds(30), "the reading sent over TLS");

        // Nothing listens in clear, and a client that trusts only the system's authorities does not get through.
        using var plain = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(async () => await plain.ConnectAsync(IPAddress.Loopback, host.MqttPort, TestContext.Current.CancellationToken));
        await Assert.ThrowsAnyAsync<Exception>(async () => await DeviceAccounts.ConnectAsync("127.0.0.1", tlsPort, device, secret, tls => tls.UseTls()));
        Directory.Delete(folder, recursive: true);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=telesuivi-test-broker", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>What a device provisioned with the broker's certificate as its only trust anchor checks.</summary>
    private static bool TrustedBy(X509Certificate2 anchor, MqttClientCertificateValidationEventArgs e)
    {
        if (e.Certificate is null || (e.SslPolicyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(anchor);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(e.Certificate.GetRawCertData());
        return chain.Build(presented);
    }
}
