#ifndef SKEIN_CSNAPPY_SHIM_H
#define SKEIN_CSNAPPY_SHIM_H

// libsnappy is C++, but snappy-c.h is its plain C interface; the shared library carries its own
// libstdc++ dependency, so linking it needs nothing beyond -lsnappy.
#include <snappy-c.h>

#endif
