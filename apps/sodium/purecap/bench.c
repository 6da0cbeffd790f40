/* The PLOS'23 libsodium workloads, timed: ChaCha20-encrypt 64 MiB in 4 KiB messages;
 * hex-encode 16 MiB and decode it again, in 4 KiB pieces. Built twice against the same
 * libsodium source, plain and purecap (purecap_bench.sh); prints one line per workload,
 * the fastest of ROUNDS rounds: "WORKLOAD SECONDS". */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kMessage = 4096 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 5;
  if (sodium_init() < 0) return 2;
  unsigned char key[crypto_stream_chacha20_KEYBYTES] = {1};
  unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {2};
  unsigned char* in = malloc(kMessage);
  unsigned char* out = malloc(kMessage);
  char* hex = malloc(2 * kMessage + 1);
  unsigned char* back = malloc(kMessage);
  for (int i = 0; i < kMessage; ++i) in[i] = (unsigned char)(i * 7);
  double best[3] = {1e9, 1e9, 1e9};
  unsigned sink = 0;
  for (int r = 0; r < rounds; ++r) {
    double t0 = now();
    for (int m = 0; m < (64 << 20) / kMessage; ++m) {
      crypto_stream_chacha20_xor_ic(out, in, kMessage, nonce, (uint64_t)m, key);
      sink += out[m % kMessage];
    }
    double t1 = now();
    for (int m = 0; m < (16 << 20) / kMessage; ++m) {
      sodium_bin2hex(hex, 2 * kMessage + 1, in, kMessage);
      sink += (unsigned char)hex[m % kMessage];
    }
    double t2 = now();
    for (int m = 0; m < (16 << 20) / kMessage; ++m) {
      size_t n = 0;
      sodium_hex2bin(back, kMessage, hex, 2 * kMessage, NULL, &n, NULL);
      sink += back[m % kMessage] + (unsigned)n;
    }
    double t3 = now();
    if (t1 - t0 < best[0]) best[0] = t1 - t0;
    if (t2 - t1 < best[1]) best[1] = t2 - t1;
    if (t3 - t2 < best[2]) best[2] = t3 - t2;
  }
  printf("chacha20 %.6f\nbin2hex %.6f\nhex2bin %.6f\n", best[0], best[1], best[2]);
  fprintf(stderr, "(checksum %u)\n", sink);
  return 0;
}
