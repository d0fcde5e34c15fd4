/* The process's worker threads for hybrid's own kernels (pool.c). */
#ifndef HB_RUNTIME_POOL_H
#define HB_RUNTIME_POOL_H

/* Runs fn(ctx, p, parts) for every p < parts on up to threads threads, the caller one of
 * them, and returns when all have run. With threads <= 1, or while another caller's job holds
 * the pool, the caller runs every part itself. fn must not call hb_pool_run. */
void hb_pool_run(int threads, int parts, void (*fn)(void *ctx, int part, int parts), void *ctx);

#endif
