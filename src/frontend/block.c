/* Blocks: a forward function with named children, parameters and constants, called through
 * hb_block_call(), each call in a frame of its own (frame.c); a hybridized block's call goes
 * through the hook hybridize.c installs. Parameters may be deferred until the first call. */
#include "frontend.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const hb_block_hooks *_Atomic hb_block_hook;

/* ---- calls -------------------------------------------------------------------------------- */

static hb_tensor *call_eager(hb_block *b, hb_tensor *x, const char *key, const void *extra)
{
    bool clean = hb_last_status() == HB_OK;
    if (hb_frame_push(b, key) != HB_OK)
        return NULL;
    hb_frame *f = hb_frame_top();
    f->extra = extra;
    if (hb_block_hook)
        f->start = hb_block_hook->mark();
    hb_tensor *y = b->forward(b, x);
    if (!y && hb_last_status() == HB_OK)
        hb_frame_fail(HB_ERR_STATE, "the forward of %s returned NULL without an error", b->type);
    /* An op that failed inside the forward fails the call, whatever the forward returns: the
     * forward went on with a NULL (a test of it was false, a branch not taken), so its result
     * may be wrong — out of memory in one op made FixedHiddenMLP skip its loop. */
    if (y && clean && hb_last_status() != HB_OK)
        y = NULL;
    hb_tensor_retain(y);
    if (f->read_host && hb_block_hook) /* only a trace sets read_host, and it needs the hook */
        hb_block_hook->read_values(b, f, x, y);
    hb_frame_pop();
    return hb_frame_adopt(y);
}

hb_tensor *hb_block_call_eager(hb_block *b, hb_tensor *x, const char *key)
{
    return call_eager(b, x, key, NULL);
}

hb_tensor *hb_block_call_extra(hb_block *b, hb_tensor *x, const void *extra)
{
    if (hb_frame_depth() == 0)
        hb_clear_error();
    return x ? call_eager(b, x, NULL, extra) : NULL;
}

hb_tensor *hb_block_call(hb_block *b, hb_tensor *x)
{
    if (!b || !x) {
        if (!b && hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "hb_block_call: block is NULL");
        else if (b && hb_last_status() == HB_OK)
            hb_frame_fail(HB_ERR_ARG, "hb_block_call: %s got a NULL input", b->type);
        return NULL;
    }
    if (hb_frame_depth() == 0)
        hb_clear_error();
    if (b->hybrid) /* made by hybridize.c, which installed the hook first */
        return hb_block_hook->call(b, x);
    return hb_block_call_eager(b, x, NULL);
}

/* ---- construction and lifetime ------------------------------------------------------------ */

hb_block *hb_block_new(const char *type, hb_forward_fn forward)
{
    if (!type || !*type || !forward)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_new: needs a type name and a forward function"),
               NULL;
    hb_block *b = hb_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (!(b->type = hb_strdup(type))) {
        hb_free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->forward = forward;
    return b;
}

hb_block *hb_block_retain(hb_block *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void hb_block_release(hb_block *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < b->nchildren; i++) {
        hb_free(b->children[i].key);
        hb_block_release(b->children[i].block);
    }
    for (int i = 0; i < b->nparams; i++) {
        hb_free(b->params[i].name);
        hb_free(b->params[i].fan_in_of);
        hb_tensor_release(b->params[i].value);
    }
    if (b->free_state)
        b->free_state(b->state);
    if (b->hybrid)
        hb_block_hook->free(b->hybrid);
    hb_free(b->children);
    hb_free(b->params);
    hb_free(b->type);
    hb_free(b->name);
    hb_free(b);
}

hb_block *hb_block_new_with(const char *type, hb_forward_fn forward, const void *state,
                            size_t size)
{
    hb_block *b = hb_block_new(type, forward);
    void *copy = b ? hb_malloc(size) : NULL;
    if (!copy) {
        hb_block_release(b);
        return NULL;
    }
    memcpy(copy, state, size);
    hb_block_set_state(b, copy, hb_free);
    return b;
}

void hb_block_set_state(hb_block *b, void *state, void (*free_state)(void *))
{
    if (!b)
        return;
    b->state = state;
    b->free_state = free_state;
}

void *hb_block_state(const hb_block *b) { return b ? b->state : NULL; }
const char *hb_block_type(const hb_block *b) { return b ? b->type : NULL; }
const char *hb_block_name(const hb_block *b) { return b ? (b->name ? b->name : b->type) : NULL; }

void hb_block_set_name(hb_block *b, const char *name)
{
    if (!b || !name)
        return;
    char *copy = hb_strdup(name);
    if (copy) {
        hb_free(b->name);
        b->name = copy;
    }
}

/* ---- children ----------------------------------------------------------------------------- */

static bool reaches(const hb_block *from, const hb_block *to)
{
    if (from == to)
        return true;
    for (int i = 0; i < from->nchildren; i++)
        if (reaches(from->children[i].block, to))
            return true;
    return false;
}

static hb_block *find_child(const hb_block *b, const char *key)
{
    for (int i = 0; i < b->nchildren; i++)
        if (strcmp(b->children[i].key, key) == 0)
            return b->children[i].block;
    return NULL;
}

hb_param *hb_block_find_param(const hb_block *b, const char *name)
{
    for (int i = 0; i < b->nparams; i++)
        if (strcmp(b->params[i].name, name) == 0)
            return &b->params[i];
    return NULL;
}

/* Names become parts of "a.b.weight": non-empty, no dots, not taken in this block. */
static hb_status check_name(const hb_block *b, const char *what, const char *name)
{
    if (!name || !*name || strchr(name, '.'))
        return hb_frame_fail(HB_ERR_NAME, "%s: %s name \"%s\" must be non-empty and without '.'",
                             b->type, what, name ? name : "(null)");
    if (find_child(b, name) || hb_block_find_param(b, name))
        return hb_frame_fail(HB_ERR_NAME, "%s: the name \"%s\" is already taken", b->type, name);
    return HB_OK;
}

hb_status hb_block_add_child(hb_block *b, const char *key, hb_block *c)
{
    hb_status st = HB_OK;
    if (!b || !c) /* a NULL child is usually an earlier failure: keep its message */
        st = hb_last_status() ? hb_last_status()
                              : hb_frame_fail(HB_ERR_ARG,
                                              "hb_block_add_child: block or child is NULL");
    else if ((st = check_name(b, "child", key)) != HB_OK)
        ;
    else if (reaches(c, b))
        st = hb_frame_fail(HB_ERR_ARG, "%s: adding child \"%s\" would make a cycle", b->type, key);
    else if (b->nchildren == b->cap_children) {
        int cap = b->cap_children ? 2 * b->cap_children : 4;
        hb_child *grown = hb_realloc(b->children, sizeof *grown * (size_t)cap);
        if (!grown)
            st = HB_ERR_NOMEM;
        else
            b->children = grown, b->cap_children = cap;
    }
    char *k = st == HB_OK ? hb_strdup(key) : NULL;
    if (!k) {
        hb_block_release(c);
        return st != HB_OK ? st : HB_ERR_NOMEM;
    }
    b->children[b->nchildren++] = (hb_child){k, c};
    return HB_OK;
}

hb_block *hb_block_child(const hb_block *b, const char *key)
{
    hb_block *c = b && key ? find_child(b, key) : NULL;
    if (!c && hb_last_status() == HB_OK) /* so a forward's call of it says what was missing */
        hb_frame_fail(HB_ERR_NAME, "%s has no child \"%s\"", b ? b->type : "(NULL block)",
                      key ? key : "(NULL)");
    return c;
}

int hb_block_num_children(const hb_block *b) { return b ? b->nchildren : 0; }

hb_block *hb_block_child_at(const hb_block *b, int i, const char **key)
{
    if (!b || i < 0 || i >= b->nchildren)
        return NULL;
    if (key)
        *key = b->children[i].key;
    return b->children[i].block;
}

/* ---- parameters and constants ------------------------------------------------------------- */

const char *hb_block_param_shape_fmt(const hb_param *p, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < p->shape.ndim && used < size; i++) {
        const char *sep = i ? ", " : "";
        used += (size_t)(p->shape.dim[i] ? snprintf(buf + used, size - used, "%s%lld", sep,
                                                    (long long)p->shape.dim[i])
                                         : snprintf(buf + used, size - used, "%s?", sep));
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static bool shape_known(const hb_shape *s)
{
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] == 0)
            return false;
    return true;
}

static int64_t fan_in(const hb_shape *s)
{
    int64_t f = s->ndim >= 1 ? (s->ndim == 1 ? s->dim[0] : 1) : 1;
    for (int i = 1; i < s->ndim; i++)
        f *= s->dim[i];
    return f;
}

static hb_status fill_init(hb_block *b, hb_param *p, hb_tensor *t)
{
    hb_rng *rng = hb_default_rng();
    const hb_init *in = &p->init;
    float lo = in->a, hi = in->b;
    if (in->kind == HB_INIT_FAN_IN_UNIFORM) {
        int64_t f = fan_in(&p->shape);
        if (p->fan_in_of) {
            hb_param *src = hb_block_find_param(b, p->fan_in_of);
            if (!src || !shape_known(&src->shape))
                return HB_ERR_STATE; /* waits for its sibling (which may come later) */
            f = fan_in(&src->shape);
        }
        float bound = f > 0 ? in->a / sqrtf((float)f) : 0.0f;
        lo = -bound, hi = bound;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        switch (in->kind) {
        case HB_INIT_ZEROS: t->data[i] = 0.0f; break;
        case HB_INIT_CONSTANT: t->data[i] = in->a; break;
        case HB_INIT_NORMAL: t->data[i] = in->a + in->b * hb_rng_normal(rng); break;
        case HB_INIT_UNIFORM:
        case HB_INIT_FAN_IN_UNIFORM: t->data[i] = lo + (hi - lo) * hb_rng_uniform(rng); break;
        }
    }
    return HB_OK;
}

/* Deferred parameters get their values on a first call, which several threads may make at
 * once: one lock for all materializing, and the value published with release order. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static hb_tensor *value_of(const hb_param *p)
{
    return __atomic_load_n(&p->value, __ATOMIC_ACQUIRE);
}

/* Gives p values if its shape is known and what its initializer needs is there; returns
 * HB_ERR_STATE (without a message) if it must wait. Called with init_lock held. */
static hb_status materialize_locked(hb_block *b, hb_param *p)
{
    if (p->value)
        return HB_OK;
    if (!shape_known(&p->shape))
        return HB_ERR_STATE;
    hb_tensor *t = hb_tensor_alloc(&p->shape);
    if (!t)
        return hb_last_status();
    hb_status st = fill_init(b, p, t);
    if (st != HB_OK) {
        hb_tensor_release(t);
        return st;
    }
    t->requires_grad = p->trainable;
    __atomic_store_n(&p->value, t, __ATOMIC_RELEASE);
    /* Siblings waiting for this one's fan-in follow now, so the random stream is consumed in
     * registration order (weight, then bias) as PyTorch does. */
    for (int i = 0; i < b->nparams; i++)
        if (b->params[i].fan_in_of && strcmp(b->params[i].fan_in_of, p->name) == 0)
            materialize_locked(b, &b->params[i]);
    return HB_OK;
}

static hb_status materialize(hb_block *b, hb_param *p)
{
    if (value_of(p))
        return HB_OK;
    pthread_mutex_lock(&init_lock);
    hb_status st = materialize_locked(b, p);
    pthread_mutex_unlock(&init_lock);
    return st;
}

/* Why p has no values yet, as an error. */
static hb_status deferred_error(const hb_block *b, const hb_param *p)
{
    char sb[96];
    if (shape_known(&p->shape) && p->fan_in_of)
        return hb_frame_fail(HB_ERR_STATE,
                             "%s: parameter \"%s\" waits for \"%s\" (its fan-in) to get "
                             "its shape on the first call or a load", b->type, p->name,
                             p->fan_in_of);
    return hb_frame_fail(HB_ERR_STATE,
                         "%s: parameter \"%s\" is deferred (shape %s) until the first "
                         "call or a load", b->type, p->name,
                         hb_block_param_shape_fmt(p, sb, sizeof sb));
}

static hb_param *add_slot(hb_block *b, const char *kind, const char *name)
{
    if (!b) {
        hb_frame_fail(HB_ERR_ARG, "adding %s \"%s\" to a NULL block", kind, name ? name : "");
        return NULL;
    }
    if (check_name(b, kind, name) != HB_OK)
        return NULL;
    if (b->nparams == b->cap_params) {
        int cap = b->cap_params ? 2 * b->cap_params : 4;
        hb_param *grown = hb_realloc(b->params, sizeof *grown * (size_t)cap);
        if (!grown)
            return NULL;
        b->params = grown, b->cap_params = cap;
    }
    hb_param *p = &b->params[b->nparams];
    *p = (hb_param){.name = hb_strdup(name)};
    return p->name ? p : NULL;
}

hb_status hb_block_add_param(hb_block *b, const char *name, int ndim, const int64_t *shape,
                             hb_init init)
{
    if (ndim < 0 || ndim > HB_MAX_DIMS || (ndim && !shape))
        return hb_frame_fail(HB_ERR_ARG, "parameter \"%s\": needs 0 to %d dims", name ? name : "",
                             HB_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return hb_frame_fail(HB_ERR_SHAPE, "parameter \"%s\": dim %d is negative",
                                 name ? name : "", i);
    if ((unsigned)init.kind > HB_INIT_FAN_IN_UNIFORM)
        return hb_frame_fail(HB_ERR_ARG, "parameter \"%s\": unknown initializer kind %d",
                             name ? name : "", (int)init.kind);
    hb_param *p = add_slot(b, "parameter", name);
    if (!p)
        return hb_last_status();
    p->trainable = true;
    p->shape = hb_shape_make(ndim, shape);
    p->init = init;
    if (init.fan_in_of && !(p->fan_in_of = hb_strdup(init.fan_in_of))) {
        hb_free(p->name);
        return HB_ERR_NOMEM;
    }
    p->init.fan_in_of = p->fan_in_of;
    b->nparams++;
    hb_status st = materialize(b, p);
    if (st != HB_OK && st != HB_ERR_STATE) { /* out of memory: as if never added */
        b->nparams--;
        hb_free(p->name), hb_free(p->fan_in_of);
        return st;
    }
    return HB_OK;
}

hb_status hb_block_add_const(hb_block *b, const char *name, hb_tensor *value)
{
    if (!value)
        return hb_frame_fail(hb_last_status() ? hb_last_status() : HB_ERR_ARG,
                             "constant \"%s\": no value (%s)", name ? name : "",
                             hb_last_status() ? hb_last_error() : "NULL");
    hb_param *p = add_slot(b, "constant", name);
    if (!p) {
        hb_tensor_release(value);
        return hb_last_status();
    }
    hb_frame_disown(value); /* made inside a forward: the block keeps it, not the call */
    p->value = value;
    p->shape = value->shape;
    b->nparams++;
    return HB_OK;
}

/* The parameter or constant called name, or NULL and an error naming what was asked. */
static hb_param *lookup(hb_block *b, const char *name, const char *fn)
{
    hb_param *p = b && name ? hb_block_find_param(b, name) : NULL;
    if (!b || !name)
        hb_frame_fail(HB_ERR_ARG, "%s: block or name is NULL", fn);
    else if (!p)
        hb_frame_fail(HB_ERR_NAME, "%s has no parameter or constant \"%s\"", b->type, name);
    return p;
}

hb_tensor *hb_block_param(hb_block *b, const char *name)
{
    hb_param *p = lookup(b, name, "hb_block_param");
    if (!p)
        return NULL;
    hb_status st = materialize(b, p);
    if (st == HB_ERR_STATE)
        return deferred_error(b, p), NULL;
    return st == HB_OK ? value_of(p) : NULL;
}

hb_tensor *hb_block_param_infer(hb_block *b, const char *name, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > HB_MAX_DIMS || (ndim && !shape))
        return hb_frame_fail(HB_ERR_ARG, "hb_block_param_infer: needs 0 to %d dims", HB_MAX_DIMS),
               NULL;
    hb_param *p = lookup(b, name, "hb_block_param_infer");
    if (!p)
        return NULL;
    hb_shape want = hb_shape_make(ndim, shape);
    char have[96], need[96];
    pthread_mutex_lock(&init_lock);
    bool fits = p->shape.ndim == ndim && shape_known(&want);
    for (int i = 0; fits && i < ndim; i++)
        fits = p->shape.dim[i] == 0 || p->shape.dim[i] == shape[i];
    hb_status st = fits ? HB_OK : HB_ERR_SHAPE;
    if (fits && !p->value) {
        p->shape = want;
        st = materialize_locked(b, p);
    }
    pthread_mutex_unlock(&init_lock);
    if (!fits)
        return hb_frame_fail(HB_ERR_SHAPE,
                             "%s: parameter \"%s\" has shape %s, but this call needs %s", b->type,
                             name, hb_block_param_shape_fmt(p, have, sizeof have),
                             hb_shape_fmt(&want, need, sizeof need)), NULL;
    if (st == HB_ERR_STATE)
        return deferred_error(b, p), NULL;
    return st == HB_OK ? value_of(p) : NULL;
}

hb_status hb_block_param_assign(hb_param *p, const hb_tensor *value)
{
    hb_dtype want = p->value ? p->value->dtype : p->trainable ? HB_F32 : value->dtype;
    if (value->dtype != want)
        return hb_frame_fail(HB_ERR_ARG, "%s \"%s\" is %s, the value %s", p->trainable
                             ? "parameter" : "constant", p->name, hb_dtypes[want].name,
                             hb_dtypes[value->dtype].name);
    size_t bytes = hb_dtypes[want].size * (size_t)value->numel;
    if (p->value) {
        if (!hb_shape_equal(&p->value->shape, &value->shape)) {
            char a[96], c[96];
            return hb_frame_fail(HB_ERR_SHAPE, "parameter \"%s\" has shape %s, the value %s",
                                 p->name, hb_shape_fmt(&p->value->shape, a, sizeof a),
                                 hb_shape_fmt(&value->shape, c, sizeof c));
        }
        memcpy(p->value->data, value->data, bytes);
        hb_tensor_changed(p->value);
        return HB_OK;
    }
    hb_tensor *copy = hb_tensor_alloc_typed(&value->shape, want);
    if (!copy)
        return hb_last_status();
    memcpy(copy->data, value->data, bytes);
    copy->requires_grad = p->trainable;
    p->value = copy;
    p->shape = value->shape;
    return HB_OK;
}

/* ---- the tree as a whole ------------------------------------------------------------------ */

static hb_status walk(hb_block *b, char *prefix, size_t len, size_t cap, hb_param_visit visit,
                      void *ctx)
{
    for (int i = 0; i < b->nparams; i++) {
        if (len + strlen(b->params[i].name) + 1 > cap)
            return hb_frame_fail(HB_ERR_NAME, "a parameter name is longer than %zu bytes", cap);
        strcpy(prefix + len, b->params[i].name);
        hb_status st = visit(ctx, prefix, b, &b->params[i]);
        if (st != HB_OK)
            return st;
    }
    for (int i = 0; i < b->nchildren; i++) {
        size_t klen = strlen(b->children[i].key);
        if (len + klen + 2 > cap)
            return hb_frame_fail(HB_ERR_NAME, "a parameter name is longer than %zu bytes", cap);
        memcpy(prefix + len, b->children[i].key, klen);
        prefix[len + klen] = '.';
        prefix[len + klen + 1] = '\0';
        hb_status st = walk(b->children[i].block, prefix, len + klen + 1, cap, visit, ctx);
        if (st != HB_OK)
            return st;
    }
    prefix[len] = '\0';
    return HB_OK;
}

hb_status hb_block_walk(hb_block *b, hb_param_visit visit, void *ctx)
{
    char prefix[1024] = "";
    if (!b)
        return hb_frame_fail(HB_ERR_ARG, "the block is NULL");
    return walk(b, prefix, 0, sizeof prefix, visit, ctx);
}

static hb_status collect(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    (void)owner;
    hb_state_dict *sd = ctx;
    hb_named_tensor *grown = hb_realloc(sd->items, sizeof *grown * (size_t)(sd->count + 1));
    if (!grown)
        return HB_ERR_NOMEM;
    sd->items = grown;
    hb_named_tensor *it = &sd->items[sd->count];
    *it = (hb_named_tensor){.name = hb_strdup(name), .trainable = p->trainable,
                            .ndim = p->shape.ndim};
    if (!it->name)
        return HB_ERR_NOMEM;
    memcpy(it->shape, p->shape.dim, sizeof it->shape);
    it->value = hb_tensor_retain(p->value);
    sd->count++;
    return HB_OK;
}

hb_status hb_block_state_dict(hb_block *b, hb_state_dict *out)
{
    if (!out)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_state_dict: out is NULL");
    *out = (hb_state_dict){0};
    hb_status st = hb_block_walk(b, collect, out);
    if (st != HB_OK)
        hb_state_dict_free(out);
    return st;
}

void hb_state_dict_free(hb_state_dict *sd)
{
    if (!sd)
        return;
    for (int i = 0; i < sd->count; i++) {
        hb_free(sd->items[i].name);
        hb_tensor_release(sd->items[i].value);
    }
    hb_free(sd->items);
    *sd = (hb_state_dict){0};
}

static void print_tree(FILE *f, hb_block *b, const char *key, int indent, int64_t *total,
                       bool *deferred)
{
    fprintf(f, "%*s%s%s%s", indent, "", key ? key : "", key ? ": " : "", b->type);
    for (int i = 0; i < b->nparams; i++) {
        char sb[96];
        hb_param *p = &b->params[i];
        fprintf(f, "%s%s%s %s", i ? ", " : "  ", p->trainable ? "" : "const ", p->name,
                hb_block_param_shape_fmt(p, sb, sizeof sb));
        if (p->value)
            *total += p->value->numel;
        else
            *deferred = true;
    }
    fputc('\n', f);
    for (int i = 0; i < b->nchildren; i++)
        print_tree(f, b->children[i].block, b->children[i].key, indent + 2, total, deferred);
}

void hb_block_print(FILE *f, hb_block *b)
{
    if (!b || !f)
        return;
    int64_t total = 0;
    bool deferred = false;
    print_tree(f, b, NULL, 0, &total, &deferred);
    fprintf(f, "%lld values in parameters and constants%s\n", (long long)total,
            deferred ? ", more after the first call" : "");
}

typedef struct find_ctx {
    const hb_tensor *t;
    char *name;
    size_t size;
    bool *trainable;
    bool found;
} find_ctx;

static hb_status find_visit(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    (void)owner;
    find_ctx *c = ctx;
    if (c->found || p->value != c->t)
        return HB_OK;
    snprintf(c->name, c->size, "%s", name);
    *c->trainable = p->trainable;
    c->found = true;
    return HB_OK;
}

bool hb_block_find_tensor(hb_block *root, const hb_tensor *t, char *name, size_t size,
                          bool *trainable)
{
    find_ctx c = {t, name, size, trainable, false};
    hb_block_walk(root, find_visit, &c);
    return c.found;
}

/* ---- constants set aside around a trace ---------------------------------------------------- */

void hb_block_consts_free(hb_saved_consts *s)
{
    for (int i = 0; s->copies && i < s->sd.count; i++)
        hb_free(s->copies[i]);
    hb_free(s->copies);
    hb_state_dict_free(&s->sd);
}

bool hb_block_consts_save(hb_block *b, hb_saved_consts *s)
{
    *s = (hb_saved_consts){0};
    if (hb_block_state_dict(b, &s->sd) != HB_OK)
        return false;
    s->copies = hb_calloc((size_t)s->sd.count + 1, sizeof *s->copies);
    for (int i = 0; s->copies && i < s->sd.count; i++) {
        const hb_named_tensor *n = &s->sd.items[i];
        if (n->trainable || !n->value)
            continue;
        size_t bytes = hb_dtypes[n->value->dtype].size * (size_t)n->value->numel;
        if (!(s->copies[i] = hb_malloc(bytes + 1))) {
            hb_block_consts_free(s);
            return false;
        }
        memcpy(s->copies[i], n->value->data, bytes);
    }
    if (!s->copies)
        hb_state_dict_free(&s->sd);
    return s->copies != NULL;
}

void hb_block_consts_restore(hb_saved_consts *s)
{
    for (int i = 0; i < s->sd.count; i++)
        if (s->copies[i])
            memcpy(s->sd.items[i].value->data, s->copies[i],
                   hb_dtypes[s->sd.items[i].value->dtype].size *
                       (size_t)s->sd.items[i].value->numel);
    hb_block_consts_free(s);
}
