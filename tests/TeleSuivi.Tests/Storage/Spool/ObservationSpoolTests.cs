using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleSuivi.Server.Storage;
using TeleSuivi.Server.Storage.Spool;
using static TeleSuivi.Tests.Storage.SampleObservations;

namespace TeleSuivi.Tests.Storage.Spool;

/// <summary>The spool's file format and bookkeeping, on real files in a temporary folder.</summary>
public sealed class ObservationSpoolTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("telesuivi-spool-").FullName;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Crc32C_CheckString_IsTheCastagnoliCheckValue()
    {
        Assert.Equal(0xE3069283u, SpoolFormat.Crc32C("123456789"u8));
        Assert.Equal(0u, SpoolFormat.Crc32C([]));
    }

    [Fact]
    public async Task AppendAsync_ThreeBatches_ReadBackInOrderWithSameContent()
    {
        using var spool = Open();
        var batches = new[] { Batch(0, 2), Batch(2, 1), Batch(3, 3) };

        foreach (var batch in batches)
        {
            Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(batch, Cancel));
        }

        var status = spool.Status;
        Assert.Equal(6, status.Messages);
        Assert.Equal(12, status.Observations);
        Assert.Equal(new FileInfo(Assert.Single(SegmentFiles())).Length, status.Bytes);
        var read = ReadAll(Assert.Single(SegmentFiles()), out var tear);
        Assert.Null(tear);
        Assert.Equal(3, read.Count);
        for (var i = 0; i < batches.Length; i++)
        {
            Assert.Equal(batches[i].Count, read[i].Messages.Count);
            for (var j = 0; j < batches[i].Count; j++)
            {
                var expected = batches[i][j];
                var actual = read[i].Messages[j];
                Assert.Equal(expected.Topic, actual.Topic);
                Assert.Equal(expected.Payload, actual.Payload);
                Assert.Equal(expected.ReceivedAt, actual.ReceivedAt);
                Assert.Equal(expected.Observations.Select(o => Json(o)), actual.Observations.Select(o => Json(o)));
            }
        }
    }

    [Fact]
    public async Task Read_LastRecordCutShort_StopsAtTheTearAsTornTailAndKeepsRecordsBefore()
    {
        var path = await WriteSegmentAsync(3);
        var third = RecordOffsets(path)[2];
        using (var file = new FileStream(path, FileMode.Open))
        {
            file.SetLength(file.Length - 7);
        }

        var read = ReadAll(path, out var tear);

        Assert.Equal(2, read.Count);
        Assert.NotNull(tear);
        Assert.True(tear.Tail);
        Assert.Equal(third, tear.Offset);
        Assert.Contains("cut short", tear.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_ZeroFilledTailAfterCrash_IsTornTail()
    {
        var path = await WriteSegmentAsync(2);
        var end = new FileInfo(path).Length;
        using (var file = new FileStream(path, FileMode.Append))
        {
            file.Write(new byte[4096]);
        }

        var read = ReadAll(path, out var tear);

        Assert.Equal(2, read.Count);
        Assert.NotNull(tear);
        Assert.True(tear.Tail);
        Assert.Equal(end, tear.Offset);
        Assert.Equal(4096, tear.BytesDiscarded);
    }

    [Fact]
    public async Task Read_ChecksumMismatchInLastRecord_IsTornTail()
    {
        var path = await WriteSegmentAsync(2);
        FlipByte(path, new FileInfo(path).Length - 3);

        var read = ReadAll(path, out var tear);

        Assert.Single(read);
        Assert.NotNull(tear);
        Assert.True(tear.Tail);
        Assert.Contains("checksum mismatch", tear.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_ChecksumMismatchInMiddleRecord_StopsThereAsDamaged()
    {
        var path = await WriteSegmentAsync(3);
        var offsets = RecordOffsets(path);
        FlipByte(path, offsets[1] + SpoolFormat.RecordHeaderBytes + 20);

        var read = ReadAll(path, out var tear);

        Assert.Single(read);
        Assert.NotNull(tear);
        Assert.False(tear.Tail);
        Assert.Equal(offsets[1], tear.Offset);
        Assert.Contains("checksum mismatch", tear.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_DamagedLengthInHeader_StopsThereWithoutReadingPastIt()
    {
        var path = await WriteSegmentAsync(2);
        var offsets = RecordOffsets(path);
        using (var file = new FileStream(path, FileMode.Open))
        {
            file.Position = offsets[0];
            file.Write(BitConverter.GetBytes(int.MaxValue));
        }

        var read = ReadAll(path, out var tear);

        Assert.Empty(read);
        Assert.NotNull(tear);
        Assert.False(tear.Tail);
        Assert.Equal(offsets[0], tear.Offset);
    }

    [Fact]
    public async Task AppendAsync_PastSegmentBytes_RollsOverToNewSegmentsInOrder()
    {
        using var spool = Open(segmentBytes: 4096);

        for (var i = 0; i < 12; i++)
        {
            await spool.AppendAsync(Batch(i * 2, 2), Cancel);
        }

        var files = SegmentFiles();
        Assert.True(files.Count >= 3, $"{files.Count} segment(s)");
        Assert.Equal(files.Count, spool.Status.Segments);
        Assert.Equal(files.Sum(f => new FileInfo(f).Length), spool.Status.Bytes);
        var topics = files.SelectMany(f => ReadAll(f, out _)).SelectMany(r => r.Messages).Select(m => m.Topic).ToList();
        Assert.Equal(Enumerable.Range(0, 24).Select(Topic), topics);
    }

    [Fact]
    public async Task Open_AfterRestart_CountsWhatThePreviousProcessSpooledAndAppendsToANewSegment()
    {
        using (var first = Open())
        {
            await first.AppendAsync(Batch(0, 2), Cancel);
            await first.AppendAsync(Batch(2, 2), Cancel);
        }

        var before = Assert.Single(SegmentFiles());
        using var second = Open();

        Assert.True(second.HasPending);
        Assert.Equal(4, second.Status.Messages);
        Assert.Equal(8, second.Status.Observations);
        await second.AppendAsync(Batch(4, 1), Cancel);
        var files = SegmentFiles();
        Assert.Equal(2, files.Count);
        Assert.Equal(before, files[0]);
        var oldest = await second.NextToReplayAsync(Cancel);
        Assert.Equal(before, oldest?.Path);
        Assert.Equal(["t/0", "t/1", "t/2", "t/3"], ReadAll(oldest!.Path, out _).SelectMany(r => r.Messages).Select(m => m.Topic));
    }

    [Fact]
    public async Task AppendAsync_PastMaxBytes_ReturnsFullAndWritesNothing()
    {
        var size = SpoolFormat.EncodeRecord(Batch(0, 1), out _).Length + SpoolFormat.FileHeaderBytes;
        using var spool = Open(maxBytes: (size * 2) + 10);
        Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(Batch(0, 1), Cancel));
        Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(Batch(1, 1), Cancel));
        var bytes = spool.Status.Bytes;

        Assert.Equal(SpoolAppendResult.Full, await spool.AppendAsync(Batch(2, 1), Cancel));

        Assert.True(spool.Status.Full);
        Assert.Equal(bytes, spool.Status.Bytes);
        Assert.Equal(bytes, SegmentFiles().Sum(f => new FileInfo(f).Length));
        Assert.Equal(2, spool.Status.Messages);
    }

    [Fact]
    public async Task AppendAsync_BatchLargerThanMaxBytesIntoEmptySpool_IsAccepted()
    {
        using var spool = Open(maxBytes: 100);

        Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(Batch(0, 3), Cancel));
        Assert.Equal(SpoolAppendResult.Full, await spool.AppendAsync(Batch(3, 1), Cancel));
    }

    [Fact]
    public async Task Remove_ReplayedSegment_DeletesItAndMakesRoomAgain()
    {
        var size = SpoolFormat.EncodeRecord(Batch(0, 1), out _).Length + SpoolFormat.FileHeaderBytes;
        using var spool = Open(maxBytes: size + 10);
        await spool.AppendAsync(Batch(0, 1), Cancel);
        Assert.Equal(SpoolAppendResult.Full, await spool.AppendAsync(Batch(1, 1), Cancel));

        var segment = await spool.NextToReplayAsync(Cancel);
        spool.MarkReplayed(segment!, 1, 1, 2);
        Assert.False(spool.HasPending);
        spool.Remove(segment!, keepAsDamaged: false);

        Assert.Empty(SegmentFiles());
        Assert.Equal(0, spool.Status.Bytes);
        Assert.False(spool.Status.Full);
        Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(Batch(1, 1), Cancel));
    }

    [Fact]
    public async Task NextToReplayAsync_OnlyTheSegmentBeingAppended_SealsItSoTheNextAppendStartsANewOne()
    {
        using var spool = Open();
        await spool.AppendAsync(Batch(0, 1), Cancel);

        var segment = await spool.NextToReplayAsync(Cancel);
        await spool.AppendAsync(Batch(1, 1), Cancel);

        Assert.Equal(2, SegmentFiles().Count);
        Assert.Equal(["t/0"], ReadAll(segment!.Path, out _).SelectMany(r => r.Messages).Select(m => m.Topic));
    }

    [Fact]
    public async Task NextToReplayAsync_EmptySpool_ReturnsNull()
    {
        using var spool = Open();

        Assert.Null(await spool.NextToReplayAsync(Cancel));
    }

    [Fact]
    public void Open_SpoolPathIsAFile_FailsWithAClearConfigurationError()
    {
        var file = Path.Combine(directory, "not-a-folder");
        File.WriteAllText(file, "x");
        using var spool = new ObservationSpool(Options.Create(new StoreOptions { SpoolDirectory = file }), NullLogger<ObservationSpool>.Instance);

        var error = Assert.Throws<TeleSuivi.Server.ConfigurationException>(spool.Open);

        Assert.Contains(file, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppendAsync_FolderReplacedByAFile_ThrowsSpoolUnavailableAndReportsTheDiskError()
    {
        var folder = Path.Combine(directory, "spool");
        using var spool = new ObservationSpool(Options.Create(new StoreOptions { SpoolDirectory = folder }), NullLogger<ObservationSpool>.Instance);
        spool.Open();
        Directory.Delete(folder);
        File.WriteAllText(folder, "in the way");

        await Assert.ThrowsAsync<SpoolUnavailableException>(() => spool.AppendAsync(Batch(0, 1), Cancel));

        Assert.NotNull(spool.Status.DiskError);
        Assert.False(spool.HasPending);
        File.Delete(folder);
        Assert.Equal(SpoolAppendResult.Appended, await spool.AppendAsync(Batch(0, 1), Cancel));
        Assert.Null(spool.Status.DiskError);
    }

    internal static IReadOnlyList<SpooledMessage> Batch(int first, int count) =>
        Enumerable.Range(first, count).Select(i => new SpooledMessage(
            Topic(i),
            Encoding.UTF8.GetBytes($"{{\"reading\":{i}}}"),
            new DateTimeOffset(2026, 1, 15, 8, 0, 0, TimeSpan.Zero).AddMilliseconds(i * 1001),
            [BodyWeight($"Patient/p{i}", Morning.AddMinutes(i), 70 + (i / 10m)), HeartRate($"Patient/p{i}", Morning.AddMinutes(i), 60 + i)])).ToList();

    private static string Topic(int i) => $"t/{i}";

    private ObservationSpool Open(long maxBytes = 1L << 30, long? segmentBytes = null)
    {
        var spool = new ObservationSpool(
            Options.Create(new StoreOptions { SpoolDirectory = directory, SpoolMaxBytes = maxBytes, SpoolSegmentBytes = segmentBytes }),
            NullLogger<ObservationSpool>.Instance);
        spool.Open();
        return spool;
    }

    private async Task<string> WriteSegmentAsync(int batches)
    {
        using var spool = Open();
        for (var i = 0; i < batches; i++)
        {
            await spool.AppendAsync(Batch(i * 2, 2), Cancel);
        }

        return Assert.Single(SegmentFiles());
    }

    private List<string> SegmentFiles() => [.. Directory.GetFiles(directory, "*" + SpoolFormat.SegmentExtension).Order(StringComparer.Ordinal)];

    private static List<SpoolRecord> ReadAll(string path, out SpoolTear? tear)
    {
        using var reader = new SpoolSegmentReader(path);
        var records = new List<SpoolRecord>();
        while (reader.TryRead(out var record))
        {
            records.Add(record);
        }

        tear = reader.Tear;
        return records;
    }

    /// <summary>Where each record starts, then where the file ends.</summary>
    private static List<long> RecordOffsets(string path)
    {
        var offsets = ReadAll(path, out _).Select(r => r.Offset).ToList();
        offsets.Add(new FileInfo(path).Length);
        return offsets;
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open);
        file.Position = offset;
        var value = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ 0x5a));
    }
}
