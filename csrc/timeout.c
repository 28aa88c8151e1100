/*
 * timeout.c: clocks, sleeping and the per-call deadline arithmetic behind
 * settimeout's block ("b") and total ("t") modes. Deadlines use the
 * monotonic clock so that setting the wall clock never shortens a wait.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <time.h>

#include "net.h"

double lsk_monotime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double lsk_walltime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lsk_sleep(double seconds) {
    struct timespec ts, rem;
    if (!(seconds > 0)) return;
    if (seconds > 1e9) seconds = 1e9;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    /* nanosleep leaves the time still to sleep in rem when a signal
     * interrupts it, so the total stays what was asked for. */
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
}

void lsk_deadline_init(lsk_deadline *d, const lsk_timeout *tm, int nowait) {
    d->tm = tm;
    d->nowait = nowait;
    /* Only a total limit needs to know when the call began; block mode
     * and no limit never read the clock on a call that does not wait. */
    d->start = tm->total > 0 && !nowait ? lsk_monotime() : -1;
}

double lsk_deadline_end(const lsk_deadline *d) {
    return d->start >= 0 ? d->start + d->tm->total : -1;
}

/* Whole milliseconds, rounded up (without ceil(): on every call that
 * may wait, and a library call where the CPU has no rounding
 * instruction). */
static int to_ms(double s) {
    double ms;
    int r;
    if (s <= 0) return 0;
    ms = s * 1000.0;
    if (ms >= 2147483647.0) return 2147483647;
    r = (int)ms;
    return (double)r < ms ? r + 1 : r;
}

int lsk_ms_until(double end) {
    return to_ms(end - lsk_monotime());
}

int lsk_deadline_ms(lsk_deadline *d) {
    const lsk_timeout *tm = d->tm;
    double left;
    if (d->nowait) return 0;
    if (tm->block < 0 && tm->total < 0) return -1;
    if (tm->total < 0) return to_ms(tm->block);
    if (tm->total == 0 || tm->block == 0) return 0;
    left = d->start + tm->total - lsk_monotime();
    if (tm->block >= 0 && tm->block < left) left = tm->block;
    return to_ms(left);
}
