using TeleSuivi.Server.Storage;

namespace TeleSuivi.Tests.Storage;

/// <summary>
/// The key stored for each id in the SQLite store: pinned values, since a change would make every stored key wrong
/// (values computed independently with Python's hashlib and int.from_bytes).
/// </summary>
public sealed class ObservationIdKeyTests
{
    [Theory]
    [InlineData("0123456789abcdef0000000000000000", 81985529216486895L)]
    [InlineData("0123456789ABCDEF1111111111111111", 81985529216486895L)]
    [InlineData("0123456789abcdefg000000000000000", 81985529216486895L)]
    [InlineData("ffffffffffffffff0000000000000000", -1L)]
    [InlineData("0123456789abcdef000000000000000", 538233220855261181L)]
    [InlineData("example-weight-1", -3011617980800965380L)]
    [InlineData("Ünïcode-id", 3316951707413650899L)]
    public void Of_Id_IsItsFirst16HexDigitsWhenItHas32CharactersElseTheStartOfItsSha256(string id, long expected) =>
        Assert.Equal(expected, ObservationIdKey.Of(id));
}
