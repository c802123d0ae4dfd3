using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TeleSuivi.Tests.Infrastructure;
using TeleSuivi.Server.Hosting;

namespace TeleSuivi.Tests.Security;

/// <summary>The real executable on HTTPS with a certificate from configuration, as documented in the README.</summary>
public sealed class HttpsTests
{
    [Fact]
    public async Task Serve_WithConfiguredCertificate_AnswersOverHttpsWithHsts()
    {
        var folder = Directory.CreateTempSubdirectory("telesuivi-tls-").FullName;
        var certificate = Path.Combine(folder, "server.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(certificate, selfSigned.Export(X509ContentType.Pfx, "pfx password"), TestContext.Current.CancellationToken);
        }

        var url = new Uri($"https://127.0.0.1:{LoopbackPort.Free()}");
        await using var host = TeleSuiviProcess.Start(
            "serve",
            ["--urls", url.ToString().TrimEnd('/')],
            environment: new Dictionary<string, string>
            {
                ["TELESUIVI_KESTREL__CERTIFICATES__DEFAULT__PATH"] = certificate,
                ["TELESUIVI_KESTREL__CERTIFICATES__DEFAULT__PASSWORD"] = "pfx password",
            });
        using var http = new HttpClient(new HttpClientHandler
        {
            // The test's own self-signed certificate, trusted for this client only.
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Subject == "CN=127.0.0.1",
        })
        { BaseAddress = url, Timeout = TimeSpan.FromSeconds(5) };

        var ready = await Poll.UntilAsync(
            async () =>
            {
                Assert.False(host.HasExited, host.Output);
                try
                {
                    using var response = await http.GetAsync(new Uri("/health/live", UriKind.Relative), TestContext.Current.CancellationToken);
                    return response.Headers.TryGetValues("Strict-Transport-Security", out var hsts) ? hsts.Single() : "no HSTS";
                }
                catch (HttpRequestException)
                {
                    return "not listening";
                }
                catch (TaskCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
                {
                    // The client's 5 s timeout: a loaded machine may take longer to answer the first request.
                    return "no answer within the client timeout";
                }
            },
            answer => answer.StartsWith("max-age=", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60),
            "the HTTPS listener to answer with HSTS");

        Assert.Equal("max-age=31536000; includeSubDomains", ready);
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task Serve_HttpsWithoutCertificate_FailsToStartWithTheSetting()
    {
        var data = Directory.CreateTempSubdirectory("telesuivi-data-").FullName;
        var run = await TeleSuiviProcess.RunToExitAsync(TimeSpan.FromSeconds(60), "serve", "--urls", $"https://127.0.0.1:{LoopbackPort.Free()}", "--mqtt-port", LoopbackPort.Free().ToString(System.Globalization.CultureInfo.InvariantCulture), "--data", data);
        Directory.Delete(data, recursive: true);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("Kestrel:Certificates:Default:Path", run.Error, StringComparison.Ordinal);
    }
}
