using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ApprovalFunctions.Engine.Definitions;

/// <summary>
/// ISO 8601 durations as fixed lengths of time: weeks, days, hours, minutes and (fractional)
/// seconds, e.g. <c>PT4H</c>, <c>P3D</c>, <c>P1DT2H</c>, <c>PT0.5S</c>. Years and months are refused
/// because they are not fixed lengths (use days, e.g. <c>P30D</c>); signs are refused.
/// </summary>
public static partial class IsoDuration
{
    /// <summary>Parses a duration; false with a reason when it is not one (zero is parsed; callers decide if it is allowed).</summary>
    public static bool TryParse(string? text, out TimeSpan value, out string? error)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            error = "a duration is required, e.g. PT4H or P3D";
            return false;
        }

        var match = Pattern().Match(text);
        if (!match.Success)
        {
            error = YearsOrMonths().IsMatch(text)
                ? "years and months are not fixed lengths; use days (e.g. P30D)"
                : "'" + text + "' is not an ISO 8601 duration such as PT4H, P3D or P1DT2H";
            return false;
        }

        try
        {
            var ticks = 0m;
            ticks += Part(match, "w") * 7 * TimeSpan.TicksPerDay;
            ticks += Part(match, "d") * TimeSpan.TicksPerDay;
            ticks += Part(match, "h") * TimeSpan.TicksPerHour;
            ticks += Part(match, "m") * TimeSpan.TicksPerMinute;
            ticks += Part(match, "s") * TimeSpan.TicksPerSecond;
            if (ticks > TimeSpan.MaxValue.Ticks || decimal.Truncate(ticks) != ticks)
            {
                error = "'" + text + "' is too long or more precise than 100 ns";
                return false;
            }

            value = TimeSpan.FromTicks((long)ticks);
            error = null;
            return true;
        }
        catch (OverflowException)
        {
            error = "'" + text + "' is too long";
            return false;
        }
    }

    /// <summary>Formats a non-negative duration, e.g. <c>P1DT2H</c>; the inverse of <see cref="TryParse"/>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return "PT0S";
        }

        var builder = new StringBuilder("P");
        if (value.Days > 0)
        {
            builder.Append(value.Days.ToString(CultureInfo.InvariantCulture)).Append('D');
        }

        var rest = value - TimeSpan.FromDays(value.Days);
        if (rest > TimeSpan.Zero)
        {
            builder.Append('T');
            if (rest.Hours > 0)
            {
                builder.Append(rest.Hours.ToString(CultureInfo.InvariantCulture)).Append('H');
            }

            if (rest.Minutes > 0)
            {
                builder.Append(rest.Minutes.ToString(CultureInfo.InvariantCulture)).Append('M');
            }

            var secondTicks = rest.Ticks % TimeSpan.TicksPerMinute;
            if (secondTicks > 0)
            {
                var seconds = secondTicks / (decimal)TimeSpan.TicksPerSecond;
                builder.Append(seconds.ToString("0.#######", CultureInfo.InvariantCulture)).Append('S');
            }
        }

        return builder.ToString();
    }

    private static decimal Part(Match match, string name) =>
        match.Groups[name].Success ? decimal.Parse(match.Groups[name].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) : 0m;

    [GeneratedRegex(@"^P(?=\d|T\d)(?:(?<w>\d{1,9})W)?(?:(?<d>\d{1,9})D)?(?:T(?=\d)(?:(?<h>\d{1,9})H)?(?:(?<m>\d{1,9})M)?(?:(?<s>\d{1,9}(?:\.\d{1,7})?)S)?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    [GeneratedRegex(@"^P(?:\d+Y|\d+M|\d+Y\d+M)", RegexOptions.CultureInvariant)]
    private static partial Regex YearsOrMonths();
}
