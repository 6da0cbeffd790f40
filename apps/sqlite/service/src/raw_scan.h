/* flexcap_raw_scan: looks for `length` bytes equal to `needle` in [base, base + size)
 * through raw pointer loads; returns their offset, or -1. The test-only hook of the
 * `sqlite-reads-ramfs` attack (raw_scan.c). */
#ifndef FLEXCAP_SQLITE_SERVICE_RAW_SCAN_H
#define FLEXCAP_SQLITE_SERVICE_RAW_SCAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int64_t flexcap_raw_scan(uint64_t base, uint64_t size, const char* needle, uint64_t length);

#ifdef __cplusplus
}
#endif

#endif
