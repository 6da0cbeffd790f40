// Configure-time probe: can this machine run the intel-pku backend? Exit 0 if a
// protection key can be allocated, else print why and exit 1.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main() {
  int key = pkey_alloc(0, 0);
  if (key < 0) {
    printf("this machine has no usable protection keys (pkey_alloc: %s)", strerror(errno));
    return 1;
  }
  pkey_free(key);
  return 0;
}
