/* Write 512 MiB into a fresh preallocated file, one way or another, and print the wall, user
 * and system time of the writes (bench/notes.md: "why writes through the mapping are bimodal
 * on this VM"). Not part of CI.
 *
 *   gcc -O2 -o /tmp/mapped_write bench/mapped_write.c
 *   for m in P Mp Mnp Mzp; do sync; echo 3 > /proc/sys/vm/drop_caches; /tmp/mapped_write $m /path/on/ext4/out.bin; done
 *
 * Mode letters: P = pwrite; M = stores into a MAP_SHARED mapping, with any of
 *   p  MADV_POPULATE_WRITE of each piece before the store (what galaxy-dl does)
 *   n  MADV_NOHUGEPAGE on the mapping     r  MADV_RANDOM       h  MADV_HUGEPAGE
 *   w  MADV_WILLNEED of each piece        a  readahead() of each piece
 *   z  pwrite of zeros over each piece before the store
 *   s  a sparse file (ftruncate) instead of fallocate
 * Optional third argument: the piece size in bytes (default 256 KiB). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double secs(struct timeval a, struct timeval b) {
    return (b.tv_sec - a.tv_sec) + (b.tv_usec - a.tv_usec) * 1e-6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODE FILE [PIECE]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *path = argv[2];
    size_t total = 512ul << 20, piece = argc > 3 ? strtoul(argv[3], 0, 0) : 256 << 10;
    char *src = malloc(piece), *zero = calloc(1, piece);
    if (!src || !zero || piece == 0) return 1;
    for (size_t i = 0; i < piece; i++) src[i] = (char)(i * 7 + 3);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); return 1; }
    if (strchr(mode, 's') ? ftruncate(fd, total) : fallocate(fd, 0, 0, total)) { perror("reserve"); return 1; }
    struct rusage r0, r1;
    double t0 = now();
    getrusage(RUSAGE_SELF, &r0);
    if (mode[0] == 'P') {
        for (size_t o = 0; o < total; o += piece)
            if (pwrite(fd, src, piece, o) != (ssize_t)piece) { perror("pwrite"); return 1; }
    } else {
        char *m = mmap(0, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) { perror("mmap"); return 1; }
        if (strchr(mode, 'r')) madvise(m, total, MADV_RANDOM);
        if (strchr(mode, 'h')) madvise(m, total, MADV_HUGEPAGE);
        if (strchr(mode, 'n')) madvise(m, total, MADV_NOHUGEPAGE);
        for (size_t o = 0; o < total; o += piece) {
            if (strchr(mode, 'w')) madvise(m + o, piece, MADV_WILLNEED);
            if (strchr(mode, 'a')) readahead(fd, o, piece);
            if (strchr(mode, 'z') && pwrite(fd, zero, piece, o) != (ssize_t)piece) { perror("pwrite"); return 1; }
            if (strchr(mode, 'p')) madvise(m + o, piece, MADV_POPULATE_WRITE);
            memcpy(m + o, src, piece);
        }
        munmap(m, total);
    }
    getrusage(RUSAGE_SELF, &r1);
    printf("%-6s wall %.3f user %.3f sys %.3f\n", mode, now() - t0, secs(r0.ru_utime, r1.ru_utime),
           secs(r0.ru_stime, r1.ru_stime));
    fdatasync(fd);
    close(fd);
    unlink(path);
    return 0;
}
