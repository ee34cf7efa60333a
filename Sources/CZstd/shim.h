#ifndef SKEIN_CZSTD_SHIM_H
#define SKEIN_CZSTD_SHIM_H

#include <zstd.h>

#endif
