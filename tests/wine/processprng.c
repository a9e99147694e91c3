/*
 * TEST-ONLY stand-in for Windows' bcryptprimitives.dll, which Debian's
 * wine 8 lacks: Rust's standard library asks it for random bytes
 * (ProcessPrng). This forwards to advapi32's RtlGenRandom
 * (SystemFunction036), which wine has.
 *
 * Built with mingw by tests/src/wine.rs at test time and copied into the
 * tests' private wine prefix only. It is never part of Remoto.exe's
 * package: real Windows (10 and later) has its own bcryptprimitives.dll.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
