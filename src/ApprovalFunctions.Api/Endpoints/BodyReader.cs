using System.Text.Json;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>Collects field-level validation errors while reading a JSON object.</summary>
internal sealed class BodyReader(JsonElement root)
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool HasErrors => _errors.Count > 0;

    public Dictionary<string, string[]> Errors => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    public void Error(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }

        list.Add(message);
    }

    public string? String(string name, bool required, int maxLength = 256)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Error(name, $"'{name}' is required.");
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            Error(name, $"'{name}' must be a string.");
            return null;
        }

        var text = value.GetString()!;
        if (required && string.IsNullOrWhiteSpace(text))
        {
            Error(name, $"'{name}' must not be empty.");
            return null;
        }

        if (text.Length > maxLength)
        {
            Error(name, $"'{name}' must be at most {maxLength} characters.");
            return null;
        }

        if (text.Any(char.IsControl) && maxLength <= 1024)
        {
            Error(name, $"'{name}' must not contain control characters.");
            return null;
        }

        return text;
    }

    public JsonElement? Object(string name, bool required)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Error(name, $"'{name}' is required (a JSON object).");
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Error(name, $"'{name}' must be a JSON object.");
            return null;
        }

        return value.Clone();
    }

    public IReadOnlyList<string> StringArray(string name, int maxItems = 100, int maxLength = 256)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            Error(name, $"'{name}' must be an array of strings.");
            return [];
        }

        var items = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
            {
                Error($"{name}[{index}]", "Must be a non-empty string.");
            }
            else if (item.GetString()!.Length > maxLength)
            {
                Error($"{name}[{index}]", $"Must be at most {maxLength} characters.");
            }
            else
            {
                items.Add(item.GetString()!);
            }

            index++;
        }

        if (index > maxItems)
        {
            Error(name, $"At most {maxItems} items.");
        }

        return items;
    }

    public DateTimeOffset? Time(string name, bool required)
    {
        var text = String(name, required, 64);
        if (text is null)
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var time))
        {
            Error(name, $"'{name}' must be an ISO 8601 time.");
            return null;
        }

        return time;
    }

    /// <summary>Refuses properties that are not in <paramref name="known"/>, so typos are not silently ignored.</summary>
    public void NoOtherProperties(params string[] known)
    {
        foreach (var property in root.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                Error(property.Name, $"Unknown property '{property.Name}'.");
            }
        }
    }
}
