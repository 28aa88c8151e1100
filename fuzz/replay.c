/*
 * fuzz/replay.c: main() for a fuzz target without libFuzzer (gcc builds,
 * `make test`). Runs LLVMFuzzerTestOneInput once on every file of the
 * directories (or files) given, in name order, and prints
 * "<target>: N inputs". A finding aborts inside the target, as under
 * libFuzzer; a directory or file that cannot be read is exit status 2.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Weak: a C target (cmsg.c) has no initialization. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *name = "replay";
static unsigned long inputs;

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;
    if (f == NULL) {
        perror(path);
        return 2;
    }
    do {
        if (len == cap) {
            unsigned char *b = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (b == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                exit(2);
            }
            buf = b;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    if (getenv("LSOCK_FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", name, path);
    /* An exact-size copy, so that AddressSanitizer sees a read past the
     * input's end as libFuzzer's own copy would show it. */
    {
        unsigned char *exact = malloc(len ? len : 1);
        if (exact == NULL) exit(2);
        memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    inputs++;
    return 0;
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path) {
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t count = 0, i;
    int rc = 0;
    if (stat(path, &st) != 0) {
        perror(path);
        return 2;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    if ((d = opendir(path)) == NULL) {
        perror(path);
        return 2;
    }
    while ((e = readdir(d)) != NULL) {
        char **more;
        if (e->d_name[0] == '.') continue; /* ., .., and hidden files */
        more = realloc(names, (count + 1) * sizeof *names);
        if (more == NULL) exit(2);
        names = more;
        names[count] = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (names[count] == NULL) exit(2);
        sprintf(names[count], "%s/%s", path, e->d_name);
        count++;
    }
    closedir(d);
    if (count > 1) qsort(names, count, sizeof *names, cmp);
    for (i = 0; i < count; i++) {
        if (rc == 0) rc = run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    int i, rc = 0;
    const char *t = getenv("LSOCK_FUZZ_TARGET");
#ifdef FUZZ_TARGET
    if (t == NULL || !*t) t = FUZZ_TARGET;
#endif
    if (t != NULL && *t) name = t;
    if (argc < 2) {
        fprintf(stderr, "usage: %s corpus-dir-or-file...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc && rc == 0; i++) rc = run_path(argv[i]);
    if (rc == 0) printf("%s: %lu inputs\n", name, inputs);
    return rc;
}
