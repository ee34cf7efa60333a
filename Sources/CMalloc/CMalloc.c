// Headers only; this file makes the target a C library SwiftPM can build.
#include "CMalloc.h"
