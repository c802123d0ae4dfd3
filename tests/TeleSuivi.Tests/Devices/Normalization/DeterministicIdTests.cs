using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Tests.Devices.Normalization;

public sealed class DeterministicIdTests
{
    [Fact]
    public void Of_KeysOfEveryLengthUpToFiveBlocks_IsTheStartOfTheirSha256()
    {
        // Every length crosses the padding boundaries (55/56 and 64 bytes of a block); non-ASCII keys too.
        var random = new Random(20260115);
        for (var length = 0; length <= 320; length++)
        {
            var key = new string([.. Enumerable.Range(0, length).Select(_ => random.Next(8) == 0 ? 'é' : (char)random.Next('!', '~'))]);

            var expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));

            Assert.Equal(BinaryPrimitives.ReadUInt128BigEndian(expected), DeterministicId.Of(key));
            Assert.Equal(Convert.ToHexStringLower(expected.AsSpan(0, 16)), ObservationFactory.IdOf(key));
        }
    }

    [Fact]
    public void IdOf_StoredNaturalKey_KeepsTheIdStoresAlreadyHold()
    {
        // The pulse rate of the GATT blood-pressure example is stored under this id (Python's hashlib agrees): an id
        // computed differently would store every redelivered reading a second time.
        Assert.Equal("a8ce49b91589a641d762af17194ac6fb", ObservationFactory.IdOf("example-device|8867-4|2026-01-15T08:30:00Z"));
    }
}
