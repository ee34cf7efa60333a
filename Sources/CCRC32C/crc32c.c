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

/* Raw register update (no pre/post inversion) with one dependency chain. */
__attribute__((target("sse4.2")))
static uint64_t crc32c_raw_sse42(uint64_t c, const uint8_t *p, size_t length) {
    while (length && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        length--;
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
    return c;
}

/*
 * The crc32 instruction has a latency of three cycles but a throughput of one per cycle, so large inputs
 * run three independent lanes and merge them. Merging uses linearity: the register after lane A then
 * lane B equals shift(A's register) XOR (B's register started from zero), where shift advances a register
 * over LANE zero bytes. shift is linear too, so four byte-indexed tables built once compute it.
 */
#define LANE 4096
static uint32_t lane_shift[4][256];
static pthread_once_t lane_shift_once = PTHREAD_ONCE_INIT;

static void build_lane_shift(void) {
    static const uint8_t zeros[LANE];
    uint32_t single_bit[32];
    for (int bit = 0; bit < 32; bit++) {
        single_bit[bit] = (uint32_t)crc32c_raw_sse42((uint64_t)1 << bit, zeros, LANE);
    }
    for (int byte = 0; byte < 4; byte++) {
        for (int value = 0; value < 256; value++) {
            uint32_t shifted = 0;
            for (int bit = 0; bit < 8; bit++) {
                if (value & (1 << bit)) shifted ^= single_bit[byte * 8 + bit];
            }
            lane_shift[byte][value] = shifted;
        }
    }
}

static inline uint32_t shift_over_lane(uint32_t c) {
    return lane_shift[0][c & 0xFF] ^ lane_shift[1][(c >> 8) & 0xFF] ^ lane_shift[2][(c >> 16) & 0xFF] ^
           lane_shift[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    if (length >= 3 * LANE) {
        pthread_once(&lane_shift_once, build_lane_shift);
        while (length >= 3 * LANE) {
            uint64_t a = c, b = 0, d = 0;
            for (size_t i = 0; i < LANE; i += 8) {
                uint64_t wa, wb, wd;
                memcpy(&wa, p + i, 8);
                memcpy(&wb, p + LANE + i, 8);
                memcpy(&wd, p + 2 * LANE + i, 8);
                a = __builtin_ia32_crc32di(a, wa);
                b = __builtin_ia32_crc32di(b, wb);
                d = __builtin_ia32_crc32di(d, wd);
            }
            c = shift_over_lane(shift_over_lane((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
            p += 3 * LANE;
            length -= 3 * LANE;
        }
    }
    return ~(uint32_t)crc32c_raw_sse42(c, p, length);
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
