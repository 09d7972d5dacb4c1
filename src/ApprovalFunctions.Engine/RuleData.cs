using System.Buffers;
using System.Text.Json;
using ApprovalFunctions.Engine.Directory;

namespace ApprovalFunctions.Engine;

/// <summary>Builds the data that workflow, stage and field rules are evaluated against.</summary>
public static class RuleData
{
    /// <summary>
    /// <c>{"record": …, "requester": {"id", "manager", "department", "groups": [...]}, "context": …}</c>.
    /// An undefined record or context is written as <c>null</c>; requester fields unknown to the
    /// directory are <c>null</c> (groups: empty).
    /// </summary>
    public static JsonElement Build(JsonElement record, string requester, DirectorySnapshot directory, JsonElement? context)
    {
        ArgumentNullException.ThrowIfNull(requester);
        ArgumentNullException.ThrowIfNull(directory);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("record");
            WriteOrNull(writer, record);
            writer.WriteStartObject("requester");
            writer.WriteString("id", requester);
            var user = directory.FindUser(requester);
            writer.WriteString("manager", user?.Manager);
            writer.WriteString("department", user?.Department);
            writer.WriteStartArray("groups");
            foreach (var group in directory.GroupsOf(requester))
            {
                writer.WriteStringValue(group);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WritePropertyName("context");
            WriteOrNull(writer, context ?? default);
            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    private static void WriteOrNull(Utf8JsonWriter writer, JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Undefined)
        {
            writer.WriteNullValue();
        }
        else
        {
            element.WriteTo(writer);
        }
    }
}
