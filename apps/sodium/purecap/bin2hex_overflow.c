/* Calls sodium_bin2hex with a hex buffer of exactly 2 * bin_len bytes: room for the
 * digits, none for the NUL. Unpatched libsodium refuses it (sodium_misuse); with the
 * injected off-by-one (bin2hex-off-by-one.sed) it writes the NUL one byte past. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  if (sodium_init() < 0) return 2;
  const unsigned char bin[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  char* hex = malloc(sizeof bin * 2);
  printf("buffer %p, 16 bytes\n", (void*)hex);
  fflush(stdout);
  sodium_bin2hex(hex, sizeof bin * 2, bin, sizeof bin);
  printf("%.16s\n", hex);
  return 0;
}
