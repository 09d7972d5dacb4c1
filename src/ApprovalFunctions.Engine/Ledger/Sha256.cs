using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ApprovalFunctions.Engine.Ledger;

/// <summary>
/// SHA-256 for the ledger chain. On Linux, .NET's <see cref="SHA256.HashData(ReadOnlySpan{byte}, Span{byte})"/>
/// goes through OpenSSL 3's EVP layer, which costs about 400 ns of fixed overhead per call (a context
/// allocated and a provider fetched each time) on top of about 0.6 ns per byte for the hash itself;
/// a ledger entry is about 300 bytes, so the overhead was two thirds of every entry and most of a
/// stage-advancing decision (docs/benchmarks-engine.md). On Linux this loads OpenSSL's libcrypto by
/// name (<c>libcrypto.so.3</c>, else <c>.so.1.1</c>; where .NET itself runs on OpenSSL 3, the same
/// library it already has loaded) and calls its plain <c>SHA256_Init/Update/Final</c> with the
/// context on the stack instead: the same code, the same SHA-NI instructions, none of the per-call setup.
/// </summary>
/// <remarks>
/// The native path is used only after it reproduces <see cref="SHA256"/>'s output on known inputs
/// at first use; anywhere else (Windows, macOS, no libcrypto, a library without these exports) the
/// BCL's one-shot is used. Both produce the same bytes, so the ledger does not depend on which ran.
/// </remarks>
internal static unsafe class Sha256
{
    /// <summary>OpenSSL's <c>SHA256_CTX</c> is 112 bytes (8+2+16+2 32-bit words); the buffer leaves room.</summary>
    private const int ContextSize = 256;

    private static readonly Native? Library = Native.TryLoad();

    /// <summary>True when the OpenSSL low-level path is in use (reported by benchmarks).</summary>
    public static bool UsesNative => Library is not null;

    /// <summary>Writes SHA-256 of <paramref name="data"/> into <paramref name="destination"/> (32 bytes).</summary>
    public static void HashData(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (Library is { } native)
        {
            native.Hash(data, destination);
        }
        else
        {
            SHA256.HashData(data, destination);
        }
    }

    private sealed class Native
    {
        private readonly delegate* unmanaged<byte*, int> _init;
        private readonly delegate* unmanaged<byte*, byte*, nuint, int> _update;
        private readonly delegate* unmanaged<byte*, byte*, int> _final;

        private Native(nint init, nint update, nint final)
        {
            _init = (delegate* unmanaged<byte*, int>)init;
            _update = (delegate* unmanaged<byte*, byte*, nuint, int>)update;
            _final = (delegate* unmanaged<byte*, byte*, int>)final;
        }

        public void Hash(ReadOnlySpan<byte> data, Span<byte> destination)
        {
            if (destination.Length < SHA256.HashSizeInBytes)
            {
                throw new ArgumentException("the destination is shorter than a SHA-256 hash", nameof(destination));
            }

            var context = stackalloc byte[ContextSize];
            fixed (byte* input = data)
            fixed (byte* output = destination)
            {
                if (_init(context) != 1 || _update(context, input, (nuint)data.Length) != 1 || _final(output, context) != 1)
                {
                    // These calls cannot fail for a valid context; if one ever does, the BCL is the answer.
                    SHA256.HashData(data, destination);
                }
            }
        }

        public static Native? TryLoad()
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }

            foreach (var name in (ReadOnlySpan<string>)["libcrypto.so.3", "libcrypto.so.1.1"])
            {
                if (!NativeLibrary.TryLoad(name, out var handle))
                {
                    continue;
                }

                if (NativeLibrary.TryGetExport(handle, "SHA256_Init", out var init)
                    && NativeLibrary.TryGetExport(handle, "SHA256_Update", out var update)
                    && NativeLibrary.TryGetExport(handle, "SHA256_Final", out var final))
                {
                    var native = new Native(init, update, final);
                    if (native.SelfTest())
                    {
                        return native;
                    }
                }

                // The handle stays loaded: .NET's own cryptography keeps libcrypto loaded anyway.
                return null;
            }

            return null;
        }

        /// <summary>Known answers against the BCL: empty, one block boundary, several blocks, odd length.</summary>
        private bool SelfTest()
        {
            Span<byte> expected = stackalloc byte[SHA256.HashSizeInBytes];
            Span<byte> actual = stackalloc byte[SHA256.HashSizeInBytes];
            var data = new byte[1000];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = (byte)((i * 31) + 7);
            }

            foreach (var length in (ReadOnlySpan<int>)[0, 55, 56, 64, 300, 1000])
            {
                var input = data.AsSpan(0, length);
                SHA256.HashData(input, expected);
                actual.Clear();
                Hash(input, actual);
                if (!actual.SequenceEqual(expected))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
