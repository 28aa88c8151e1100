/*
 * fuzz/cmsg.c: fuzz target "cmsg", the ancillary-data walker of recvmsg
 * (lsk_cmsg_fds in csrc/ancillary.c), on arbitrary control bytes.
 *
 * The input is copied into a buffer aligned for struct cmsghdr, of exactly
 * its size, so that AddressSanitizer catches a read past the end; the
 * descriptor array is exactly cap ints, for writes past it. Invariants:
 * the count is at most cap, and every descriptor stored is a 4-byte value
 * found in an SCM_RIGHTS message of the input (checked by looking for its
 * bytes), and the walk is deterministic (a second call gives the same).
 * Nothing is closed or opened: the numbers are only data here.
 */
#define _GNU_SOURCE /* memmem */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"

#define CAP 253 /* recvmsg's limit (SCM_MAX_FD) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fds[CAP], again[CAP];
    size_t n, m, i;
    /* malloc's alignment suits struct cmsghdr (size_t and int fields). */
    void *control = malloc(size ? size : 1);
    if (control == NULL) return 0;
    memcpy(control, data, size);

    n = lsk_cmsg_fds(control, size, fds, CAP);
    if (n > CAP) {
        fprintf(stderr, "cmsg: %zu descriptors stored with cap %d\n", n, CAP);
        abort();
    }
    for (i = 0; i < n; i++) {
        if (n * sizeof(int) + CMSG_LEN(0) > size || memmem(data, size, &fds[i], sizeof fds[i]) == NULL) {
            fprintf(stderr, "cmsg: descriptor %d (#%zu of %zu) is not in the input\n", fds[i], i, n);
            abort();
        }
    }
    m = lsk_cmsg_fds(control, size, again, CAP);
    if (m != n || memcmp(fds, again, n * sizeof(int)) != 0) {
        fprintf(stderr, "cmsg: two walks of the same bytes differ (%zu, %zu)\n", n, m);
        abort();
    }
    /* A smaller cap stores a prefix of the same descriptors. */
    if (n > 0) {
        size_t cap = (size_t)data[0] % (n + 1);
        m = lsk_cmsg_fds(control, size, again, cap);
        if (m != cap || memcmp(fds, again, m * sizeof(int)) != 0) {
            fprintf(stderr, "cmsg: cap %zu stored %zu, not the first of %zu\n", cap, m, n);
            abort();
        }
    }
    free(control);
    return 0;
}
