/* The call stack of this thread: a frame per block call, which owns the tensors made inside
 * it (an autorelease frame) and gives the block path that hb_frame_fail puts before errors. */
#include "frontend.h"

#include <pthread.h>
#include <stdarg.h>

enum { MAX_DEPTH = 256 };

/* A frame's list of owned tensors stays allocated for the next call at that depth; a thread's
 * lists are freed when the thread exits (a key destructor) or, for the main thread, are still
 * reachable at exit. */
static _Thread_local hb_frame frames[MAX_DEPTH];
static _Thread_local char reasons[MAX_DEPTH][HB_REASON_SIZE];
static _Thread_local int depth;
static pthread_key_t frames_key;
static pthread_once_t frames_once = PTHREAD_ONCE_INIT;

static void free_frames(void *unused)
{
    (void)unused;
    for (int i = 0; i < MAX_DEPTH; i++) {
        hb_free(frames[i].owned);
        frames[i].owned = NULL, frames[i].cap = 0;
    }
}

static void make_frames_key(void) { pthread_key_create(&frames_key, free_frames); }

hb_frame *hb_frame_top(void) { return depth ? &frames[depth - 1] : NULL; }
int hb_frame_depth(void) { return depth; }
hb_frame *hb_frame_at(int i) { return i >= 0 && i < depth ? &frames[i] : NULL; }

hb_tensor *hb_frame_adopt(hb_tensor *t)
{
    if (!t || depth == 0)
        return t;
    hb_frame *f = &frames[depth - 1];
    if (f->nowned == f->cap) {
        if (!f->cap) { /* this thread's first list: arrange for it to be freed at exit */
            pthread_once(&frames_once, make_frames_key);
            pthread_setspecific(frames_key, frames);
        }
        int cap = f->cap ? 2 * f->cap : 16;
        hb_tensor **owned = hb_realloc(f->owned, sizeof *owned * (size_t)cap);
        if (!owned) {
            hb_tensor_release(t);
            return NULL;
        }
        f->owned = owned, f->cap = cap;
    }
    f->owned[f->nowned++] = t;
    return t;
}

bool hb_frame_disown(hb_tensor *t)
{
    for (int d = depth - 1; d >= 0; d--) {
        hb_frame *f = &frames[d];
        for (int i = f->nowned - 1; i >= 0; i--)
            if (f->owned[i] == t) {
                f->owned[i] = f->owned[--f->nowned];
                return true;
            }
    }
    return false;
}

const char *hb_frame_path(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < depth && used < size; i++) {
        int w = snprintf(buf + used, size - used, i ? "/%s" : "%s", frames[i].key);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

hb_status hb_frame_fail(hb_status status, const char *fmt, ...)
{
    char msg[768], path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (depth == 0)
        return hb_error_set(status, "%s", msg);
    return hb_error_set(status, "%s: %s", hb_frame_path(path, sizeof path), msg);
}

/* The key under which the caller registered b, so paths read "chimera/0/net/2". A child
 * registered under two keys is named by the first. */
static const char *call_key(hb_block *b)
{
    if (depth == 0)
        return b->name ? b->name : b->type;
    hb_block *parent = frames[depth - 1].block;
    for (int i = 0; parent && i < parent->nchildren; i++)
        if (parent->children[i].block == b)
            return parent->children[i].key;
    return b->type; /* called without being registered: its type is the best name */
}

hb_status hb_frame_push(hb_block *b, const char *key)
{
    if (depth == MAX_DEPTH)
        return hb_frame_fail(HB_ERR_STATE,
                             "blocks nested more than %d deep (a block calling itself?)",
                             MAX_DEPTH);
    key = key ? key : call_key(b); /* before the push: it looks at the caller's frame */
    hb_frame *f = &frames[depth++];
    f->block = b;
    f->key = key;
    f->start = (hb_trace_pos){0, 0}; /* a block's call marks where it begins in a trace */
    f->read_host = false;
    f->reason = reasons[depth - 1];
    f->read_op = NULL;
    f->extra = NULL;
    return HB_OK;
}

void hb_frame_pop(void)
{
    hb_frame *f = &frames[--depth];
    for (int i = 0; i < f->nowned; i++)
        hb_tensor_release(f->owned[i]);
    f->nowned = 0;
    f->block = NULL;
}
