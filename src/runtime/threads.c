/* Thread settings of the compute libraries hybrid calls. OpenBLAS 0.3.21 has one process-wide
 * thread count and no per-call one, and its idle workers spin (sched_yield) for a while after
 * any change of the count or any parallel call: on a small machine that spinning costs more
 * than a small GEMM. So the count stays at one, and a GEMM large enough to gain from splitting
 * raises it to the caller's count for its call. Those raised calls take a lock, one at a time
 * (each wants every core anyway): OpenBLAS builds that free per-thread buffers when the count
 * drops must not see it drop under a parallel call. A small GEMM on another thread meanwhile
 * may run with the raised count; that changes how fast it is, never its result (each output
 * element is the same dot product whichever thread computes it). The count is the process's:
 * other code calling OpenBLAS in the same process runs on one thread after hybrid's first
 * GEMM (hb_set_num_threads tells hybrid the count to raise it to). */
#include "../common.h"
#include "kernels.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

/* The caller's count (hb_set_num_threads), or OpenBLAS's default (its cores, or
 * OPENBLAS_NUM_THREADS) read on first use; 0 until then. */
static atomic_int wanted;
static pthread_mutex_t raised = PTHREAD_MUTEX_INITIALIZER;

int hb_threads_wanted(void)
{
    int n = atomic_load(&wanted);
    if (n == 0) {
        int found = openblas_get_num_threads();
        if (atomic_compare_exchange_strong(&wanted, &n, found))
            openblas_set_num_threads(1); /* from now on raised per call */
        n = atomic_load(&wanted);
    }
    return n;
}

void hb_set_num_threads(int n)
{
    if (n > 0) {
        hb_threads_wanted(); /* OpenBLAS's default is read, and the count lowered, once */
        atomic_store(&wanted, n);
    }
}

bool hb_blas_parallel_begin(int64_t m, int64_t n, int64_t k)
{
    int want = hb_threads_wanted();
    if (want <= 1 || m * n * k < HB_BLAS_PARALLEL_MIN)
        return false;
    pthread_mutex_lock(&raised);
    openblas_set_num_threads(want);
    return true;
}

void hb_blas_parallel_end(bool began)
{
    if (began) {
        openblas_set_num_threads(1);
        pthread_mutex_unlock(&raised);
    }
}
