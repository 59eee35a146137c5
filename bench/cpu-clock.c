/*
 * The core's clock, roughly: a chain of dependent integer adds runs one add a cycle, so adds per
 * second ≈ cycles per second, a lower bound: anything that stalls the loop shows as fewer (runs
 * minutes apart here gave 1.8–3.6 G a second). bench/README.md, "What is left of target 1", uses
 * the best of several runs for the peak of 128-bit SIMD on this machine.
 *
 *   gcc -O2 bench/cpu-clock.c -o /tmp/cpu-clock && /tmp/cpu-clock
 */
#include <stdio.h>
#include <time.h>

int main(void) {
  const long n = 2000000000L;
  unsigned long x = 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) __asm__ volatile("add $1, %0" : "+r"(x));
  clock_gettime(CLOCK_MONOTONIC, &b);
  const double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%.2f G dependent adds per second (%lu)\n", (double)n / s / 1e9, x);
  return 0;
}
