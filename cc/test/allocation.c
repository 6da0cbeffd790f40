/* Allocation by hybrid code: the pass sends these calls to the runtime, which serves
 * them from the running compartment's heap (hybrid_malloc_test.cc). */
#include <stdlib.h>
#include <string.h>

void* c_allocate(size_t n) { return malloc(n); }
void* c_zeroed(size_t count, size_t size) { return calloc(count, size); }
void* c_grow(void* p, size_t n) { return realloc(p, n); }
void c_release(void* p) { free(p); }
char* c_copy_string(const char* s) { return strdup(s); }

/* What the C library answers with a pointer to its own memory, copied into the
 * compartment (cc/runtime/src/hybrid_libc_system.cc). */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>

const char* c_getenv(const char* name) { return getenv(name); }
const char* c_strerror(int error) { return strerror(error); }
/* The first address getaddrinfo answers for NODE (numeric) and SERVICE, copied to OUT
 * (read here, from the list, which is then freed); its length is returned and where
 * the list had it in *WHERE. */
int c_first_address(const char* node, const char* service, void* out, size_t room, void** where) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* list = NULL;
  if (getaddrinfo(node, service, &hints, &list) != 0) return -1;
  const int n = (int)list->ai_addrlen;
  *where = list->ai_addr;
  memcpy(out, list->ai_addr, (size_t)n < room ? (size_t)n : room);
  freeaddrinfo(list);
  return n;
}
int c_print(char* to, const char* format, int value) { return sprintf(to, format, value); }

/* A signal handler in hybrid code: it stores into memory of its own compartment, which
 * only that compartment's DDC reaches. The slot's address is a thread-local (reached
 * unchecked), set when the handler is installed. */
static _Thread_local volatile int* t_slot;
static void on_signal(int sig) { *t_slot = sig; }
int c_install_handler(int sig, volatile int* slot) {
  t_slot = slot;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  return sigaction(sig, &action, NULL);
}
void c_raise(int sig) { raise(sig); }

/* A function's address, taken here and in function_address.c: C says they are equal. */
int c_identity(int x) { return x; }
void* c_identity_here(void) { return (void*)&c_identity; }
