#ifndef SKEIN_CLZ4_SHIM_H
#define SKEIN_CLZ4_SHIM_H

// The LZ4 frame format (what Kafka calls lz4), not the bare block format of lz4.h.
#include <lz4frame.h>

#endif
