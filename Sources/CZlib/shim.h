#ifndef SKEIN_CZLIB_SHIM_H
#define SKEIN_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 and inflateInit2 are macros that pass ZLIB_VERSION and sizeof(z_stream) for an ABI check;
// Swift cannot call macros, so these wrappers expand them here.

static inline int skein_deflate_init2(z_streamp stream, int level, int window_bits) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}

static inline int skein_inflate_init2(z_streamp stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}

#endif
