/* Compiled with `flexcap cc --abi hybrid --count-checks` (the build flexcap bench hybrid
   uses for checks_executed): every check made at run time is counted. Volatile loads are
   checked one by one (never merged or vectorized), so a call makes exactly n checks. */
long counted_sum(volatile const long* p, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += p[i];
  return sum;
}
