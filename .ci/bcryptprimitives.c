/* ProcessPrng for Wine 8.0 (Debian 12), which has no bcryptprimitives.dll.
 * Rust's std on Windows takes HashMap's random keys from it since Rust 1.78,
 * so without it no Rust program starts under that Wine (status 53). Wine has
 * its own since 8.13. Built by .ci/wine with MinGW into the Wine prefix.
 * See: https://github.com/rust-lang/rust/pull/121337 */
#include <windows.h>
#include <ntsecapi.h>

/* As Windows' ProcessPrng: fills the buffer, and always succeeds. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
