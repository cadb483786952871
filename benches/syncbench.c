/* The sync of "recorded before revealed" alone (issue 24): appends one 300-byte line to a new
   file in DIR and fdatasyncs it, N times, 2 ms apart, as an audited `totp` does once; prints the
   median in microseconds on stdout and the spread on stderr. Used by benches/hot_paths.sh.
       syncbench DIR [N] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  int n = argc > 2 ? atoi(argv[2]) : 200;
  if (n < 1) n = 1;
  char path[4096], line[300];
  snprintf(path, sizeof path, "%s/syncbench.%d", dir, (int)getpid());
  memset(line, 'x', sizeof line);
  line[sizeof line - 1] = '\n';
  double *us = malloc(n * sizeof *us);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_EXCL, 0600);
  if (fd < 0 || !us) { perror(path); return 1; }
  for (int i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (write(fd, line, sizeof line) != (ssize_t)sizeof line || fdatasync(fd) != 0) {
      perror(path);
      unlink(path);
      return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    us[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    usleep(2000);
  }
  close(fd);
  unlink(path);
  qsort(us, n, sizeof *us, by_value);
  fprintf(stderr, "syncbench: append + fdatasync: median %.0f us (p25 %.0f, p75 %.0f, min %.0f), %d runs\n",
          us[n / 2], us[n / 4], us[3 * n / 4], us[0], n);
  printf("%.1f\n", us[n / 2]);
  return 0;
}
