#include "ccrc32c.h"

#include <pthread.h>
#include <string.h>

#define CASTAGNOLI_REFLECTED 0x82F63B78u

static uint32_t slicing_table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (crc >> 1) ^ CASTAGNOLI_REFLECTED : crc >> 1;
        }
        slicing_table[0][byte] = crc;
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = slicing_table[0][byte];
        for (int slice = 1; slice < 8; slice++) {
            crc = slicing_table[0][crc & 0xFF] ^ (crc >> 8);
            slicing_table[slice][byte] = crc;
        }
    }
}

uint32_t skein_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    pthread_once(&table_once, build_tables);
    const uint8_t *p = data;
    crc = ~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8); /* little-endian hosts only: x86_64 and aarch64 Linux */
        word ^= crc;
        crc = slicing_table[7][word & 0xFF] ^ slicing_table[6][(word >> 8) & 0xFF] ^
              slicing_table[5][(word >> 16) & 0xFF] ^ slicing_table[4][(word >> 24) & 0xFF] ^
              slicing_table[3][(word >> 32) & 0xFF] ^ slicing_table[2][(word >> 40) & 0xFF] ^
              slicing_table[1][(word >> 48) & 0xFF] ^ slicing_table[0][word >> 56];
        p += 8;
        length -= 8;
    }
    while (length--) {
        crc = slicing_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}

#if defined(__x86_64__)
#include <cpuid.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        length--;
    }
    while (length >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        c = __builtin_ia32_crc32di(c, w0);
        c = __builtin_ia32_crc32di(c, w1);
        c = __builtin_ia32_crc32di(c, w2);
        c = __builtin_ia32_crc32di(c, w3);
        p += 32;
        length -= 32;
    }
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        length -= 8;
    }
    while (length--) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    }
    return ~(uint32_t)c;
}

static int detect_sse42(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}
#endif

static int hardware = -1;

int skein_crc32c_hardware_available(void) {
#if defined(__x86_64__)
    if (hardware < 0) hardware = detect_sse42();
    return hardware;
#else
    return 0;
#endif
}

uint32_t skein_crc32c(uint32_t crc, const void *data, size_t length) {
#if defined(__x86_64__)
    if (skein_crc32c_hardware_available()) return crc32c_sse42(crc, data, length);
#endif
    return skein_crc32c_portable(crc, data, length);
}
