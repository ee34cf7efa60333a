#ifndef SKEIN_CCRC32C_H
#define SKEIN_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Continues a CRC-32C (Castagnoli) over `length` bytes. Start with crc = 0.
/// Uses the SSE4.2 crc32 instruction when the CPU has it, a slicing-by-8 table otherwise.
uint32_t skein_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable path alone, so tests can check both paths agree on machines with SSE4.2.
uint32_t skein_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware path is in use.
int skein_crc32c_hardware_available(void);

#endif
