/* writer.c, for writer.cc. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
uint64_t* writer_publish(uint64_t value);
uint64_t writer_read_shared(void);
uint64_t* writer_private(void);
#ifdef __cplusplus
}
#endif
