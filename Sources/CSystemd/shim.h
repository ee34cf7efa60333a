#ifndef SKEIN_CSYSTEMD_SHIM_H
#define SKEIN_CSYSTEMD_SHIM_H

#include <systemd/sd-journal.h>
#include <systemd/sd-id128.h>

#endif
