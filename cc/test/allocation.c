/* Allocation by hybrid code: the pass sends these calls to the runtime, which serves
 * them from the running compartment's heap (hybrid_malloc_test.cc). */
#include <stdlib.h>
#include <string.h>

void* c_allocate(size_t n) { return malloc(n); }
void* c_zeroed(size_t count, size_t size) { return calloc(count, size); }
void* c_grow(void* p, size_t n) { return realloc(p, n); }
void c_release(void* p) { free(p); }
char* c_copy_string(const char* s) { return strdup(s); }
