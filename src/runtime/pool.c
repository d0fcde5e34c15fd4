/* One pool of worker threads for the process, for hybrid's own kernels. A job is split into
 * parts that the caller and the workers take one at a time (an atomic counter), so a part
 * that runs long only delays its own thread. Idle workers spin briefly on the job counter —
 * the next GEMM of a plan usually comes within microseconds — then sleep on a condition
 * variable, so a process that stops computing does not keep its cores busy (ONNX Runtime's
 * users complain of idle threads burning cores). One job runs at a time: a second caller
 * (another thread running a plan) runs its job's parts itself rather than wait. */
#include "pool.h"

#include "../common.h"

#include <pthread.h>
#include <stdatomic.h>

enum { MAX_WORKERS = 63, SPINS = 20000 };

typedef struct job {
    void (*fn)(void *ctx, int part, int parts);
    void *ctx;
    int parts;
    atomic_int next, done;
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the workers' sleep, the job slot */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t running = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static job *current;
static int inside;             /* workers that took current and have not left it (lock) */
static atomic_uint generation; /* bumped for each job */
static int nworkers;

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Takes parts of j until none is left; returns after the last part this thread ran. */
static void work(job *j)
{
    for (int p; (p = atomic_fetch_add(&j->next, 1)) < j->parts;) {
        j->fn(j->ctx, p, j->parts);
        if (atomic_fetch_add(&j->done, 1) + 1 == j->parts) {
            pthread_mutex_lock(&lock);
            pthread_cond_broadcast(&finished);
            pthread_mutex_unlock(&lock);
        }
    }
}

static void *worker(void *unused)
{
    (void)unused;
    unsigned seen = atomic_load(&generation);
    for (;;) {
        for (int s = 0; s < SPINS && atomic_load(&generation) == seen; s++)
            relax(); /* brief: then sleep */
        pthread_mutex_lock(&lock);
        while (atomic_load(&generation) == seen)
            pthread_cond_wait(&wake, &lock);
        seen = atomic_load(&generation);
        job *j = current;
        inside += j != NULL;
        pthread_mutex_unlock(&lock);
        if (!j)
            continue;
        work(j);
        pthread_mutex_lock(&lock); /* the job lives on its caller's stack: say we left it */
        if (--inside == 0)
            pthread_cond_broadcast(&finished);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

/* Starts workers up to want (never stopped: the pool lives as long as the process). */
static int grow(int want)
{
    want = want > MAX_WORKERS ? MAX_WORKERS : want;
    while (nworkers < want) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, worker, NULL);
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
        nworkers++;
    }
    return nworkers;
}

void hb_pool_run(int threads, int parts, void (*fn)(void *ctx, int part, int parts), void *ctx)
{
    if (parts <= 0)
        return;
    if (threads <= 1 || parts == 1 || pthread_mutex_trylock(&running) != 0) {
        for (int p = 0; p < parts; p++)
            fn(ctx, p, parts);
        return;
    }
    job j = {.fn = fn, .ctx = ctx, .parts = parts};
    pthread_mutex_lock(&lock);
    grow(threads - 1);
    current = &j;
    atomic_fetch_add(&generation, 1);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    work(&j);
    pthread_mutex_lock(&lock);
    current = NULL; /* no worker takes it now; wait for those that did */
    while (atomic_load(&j.done) < parts || inside > 0)
        pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&running);
}
