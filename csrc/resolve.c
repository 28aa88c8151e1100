/*
 * resolve.c: getaddrinfo on a worker thread, so that a name lookup never
 * stops lsock.loop. core._resolve(host, service [, hints]) starts a
 * detached thread and returns a query object at once; the thread writes
 * one byte to a pipe when the answer is in, and query:result() then
 * gives what lsock.getaddrinfo gives. The loop waits on query:getfd().
 *
 * The query is shared by the thread and the Lua object, each holding one
 * reference under a mutex: a query collected while its lookup still runs
 * (a script that gave up, or exits) is freed by the thread when the
 * lookup returns, and a lookup that never returns costs one parked
 * thread, never the loop.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define LSOCK_QUERY "lsock.query"

typedef struct query {
    pthread_mutex_t mu;
    int refs;                 /* the Lua object and the thread */
    int done;
    int rfd, wfd;             /* the pipe: the thread writes one byte */
    lsk_gai_query q;          /* host and service point into `names` */
    char *names;
    int err;
    struct addrinfo *res;
} query;

typedef struct {
    query *q; /* NULL once collected */
} query_ref;

static void release(query *q) {
    int last;
    pthread_mutex_lock(&q->mu);
    last = --q->refs == 0;
    pthread_mutex_unlock(&q->mu);
    if (!last) return;
    if (q->res != NULL) freeaddrinfo(q->res);
    if (q->rfd >= 0) close(q->rfd);
    if (q->wfd >= 0) close(q->wfd);
    pthread_mutex_destroy(&q->mu);
    free(q->names);
    free(q);
}

static void *worker(void *arg) {
    query *q = (query *)arg;
    struct addrinfo hints, *res = NULL;
    int err;
    char one = 1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = q->q.family;
    hints.ai_socktype = q->q.socktype;
    hints.ai_flags = q->q.flags;
    err = getaddrinfo(q->q.host, q->q.service, &hints, &res);
    pthread_mutex_lock(&q->mu);
    q->err = err;
    q->res = res;
    q->done = 1;
    pthread_mutex_unlock(&q->mu);
    while (write(q->wfd, &one, 1) < 0 && errno == EINTR) {
    }
    release(q);
    return NULL;
}

/* A copy of s at *p, advancing *p; NULL stays NULL. */
static const char *copy_into(char **p, const char *s) {
    char *at = *p;
    size_t n;
    if (s == NULL) return NULL;
    n = strlen(s) + 1;
    memcpy(at, s, n);
    *p += n;
    return at;
}

int lsk_resolve(lua_State *L) {
    lsk_gai_query args;
    query_ref *ref;
    query *q;
    pthread_t t;
    pthread_attr_t attr;
    int fds[2], err;
    size_t need;
    char *p;

    lsk_gai_args(L, &args);
    ref = (query_ref *)lua_newuserdata(L, sizeof *ref);
    ref->q = NULL;
    luaL_getmetatable(L, LSOCK_QUERY);
    lua_setmetatable(L, -2);
    need = (args.host ? strlen(args.host) + 1 : 0) + (args.service ? strlen(args.service) + 1 : 0) + 1;
    q = (query *)calloc(1, sizeof *q);
    if (q == NULL || (q->names = (char *)malloc(need)) == NULL) {
        free(q);
        return luaL_error(L, "not enough memory");
    }
    q->rfd = q->wfd = -1;
    err = lsk_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    if (lsk_collected_for_fds(L, err)) err = lsk_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    if (err != 0) {
        free(q->names);
        free(q);
        return lsk_fail(L, err, "getaddrinfo");
    }
    q->rfd = fds[0];
    q->wfd = fds[1];
    q->q = args;
    p = q->names;
    q->q.host = copy_into(&p, args.host);
    q->q.service = copy_into(&p, args.service);
    pthread_mutex_init(&q->mu, NULL);
    q->refs = 2;
    ref->q = q;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&t, &attr, worker, q);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        q->refs = 1; /* no thread: the Lua object's reference is the last */
        return lsk_fail(L, err, "getaddrinfo");
    }
    return 1;
}

static query *check_query(lua_State *L) {
    query_ref *ref = (query_ref *)luaL_checkudata(L, 1, LSOCK_QUERY);
    if (ref->q == NULL) luaL_argerror(L, 1, "query already collected");
    return ref->q;
}

static int q_getfd(lua_State *L) {
    lua_pushinteger(L, check_query(L)->rfd);
    return 1;
}

/* The answer as lsock.getaddrinfo gives it, or nil, "timeout" while the
 * lookup still runs. */
static int q_result(lua_State *L) {
    query *q = check_query(L);
    int done, err;
    struct addrinfo *res;
    pthread_mutex_lock(&q->mu);
    done = q->done;
    err = q->err;
    res = q->res;
    pthread_mutex_unlock(&q->mu);
    if (!done) return lsk_timeout_result(L);
    return lsk_gai_results(L, &q->q, err, res);
}

static int q_gc(lua_State *L) {
    query_ref *ref = (query_ref *)luaL_checkudata(L, 1, LSOCK_QUERY);
    if (ref->q != NULL) {
        release(ref->q);
        ref->q = NULL;
    }
    return 0;
}

void lsk_resolve_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"getfd", q_getfd}, {"result", q_result}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", q_gc}, {NULL, NULL}};
    lsk_new_class(L, LSOCK_QUERY, meta, methods);
}
