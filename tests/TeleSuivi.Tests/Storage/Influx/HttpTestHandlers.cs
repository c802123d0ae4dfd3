using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;

namespace TeleSuivi.Tests.Storage.Influx;

/// <summary>One request as it went out: what the server received.</summary>
public sealed record SentRequest(HttpMethod Method, Uri Uri, string? Authorization, IReadOnlyList<string> ContentEncoding, byte[] Body)
{
    /// <summary>The body as the server reads it: gunzipped when it was sent gzip-compressed.</summary>
    public string DecodedBody()
    {
        if (!ContentEncoding.Contains("gzip"))
        {
            return Encoding.UTF8.GetString(Body);
        }

        using var gzip = new GZipStream(new MemoryStream(Body), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    internal static async Task<SentRequest> CaptureAsync(HttpRequestMessage request, CancellationToken cancellationToken) => new(
        request.Method,
        request.RequestUri!,
        request.Headers.Authorization?.ToString(),
        request.Content?.Headers.ContentEncoding.ToList() ?? [],
        request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken));
}

/// <summary>Passes requests on to a real server and records them.</summary>
public sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All })
{
    public ConcurrentQueue<SentRequest> Requests { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(await SentRequest.CaptureAsync(request, cancellationToken));
        return await base.SendAsync(request, cancellationToken);
    }
}

/// <summary>Answers requests itself, as a server that misbehaves on purpose would.</summary>
public sealed class StubHandler(Func<SentRequest, int, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
{
    /// <param name="answer">The answer to the request, given the request and its index (0 for the first).</param>
    public StubHandler(Func<SentRequest, int, HttpResponseMessage> answer)
        : this((request, index, _) => Task.FromResult(answer(request, index)))
    {
    }

    public ConcurrentQueue<SentRequest> Requests { get; } = new();

    public static HttpResponseMessage Answer(HttpStatusCode status, string? json = null)
    {
        var response = new HttpResponseMessage(status);
        response.Headers.Add("X-Influxdb-Version", "stub");
        if (json is not null)
        {
            response.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return response;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var sent = await SentRequest.CaptureAsync(request, cancellationToken);
        Requests.Enqueue(sent);
        return await answer(sent, Requests.Count - 1, cancellationToken);
    }
}
