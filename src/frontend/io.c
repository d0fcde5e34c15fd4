/* Files: safetensors for parameters (the JSON header parsed by cJSON) and .npy for inputs and
 * outputs. Readers trust nothing in a file: every length, offset, shape and dtype is checked
 * against the file's real size before use. Writers write a temporary file and rename it, so a
 * failure never leaves a partial output behind. */
#include "frontend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- whole files in and out --------------------------------------------------------------- */

static hb_status read_file(const char *path, unsigned char **data, size_t *size)
{
    *data = NULL, *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return hb_frame_fail(HB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return hb_frame_fail(HB_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = hb_malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return hb_frame_fail(HB_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (fread(buf, 1, n, f) != n) {
        hb_free(buf);
        fclose(f);
        return hb_frame_fail(HB_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    *data = buf, *size = n;
    return HB_OK;
}

/* Opens a fresh hidden file in path's directory: "dir/.hb-XXXXXX", short so that any valid
 * destination name works, created with 0666 so the umask applies as for any new file. */
static int open_temp(const char *path, char *tmp, size_t size)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned tag = (unsigned)getpid() * 2654435761u + atomic_fetch_add(&counter, 1) * 40503u;
        if (snprintf(tmp, size, "%.*s.hb-%08x", dirlen, path, tag) >= (int)size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Writes the parts to path through a temporary file in the same directory, renamed over path
 * only when everything is written. */
static hb_status write_file(const char *path, int nparts, const void *const *parts,
                            const size_t *sizes)
{
    size_t tmp_size = strlen(path) + 16;
    char *tmp = hb_malloc(tmp_size);
    if (!tmp)
        return HB_ERR_NOMEM;
    int fd = open_temp(path, tmp, tmp_size);
    if (fd < 0) {
        hb_status st = hb_frame_fail(HB_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        hb_free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f != NULL;
    for (int i = 0; ok && i < nparts; i++)
        ok = sizes[i] == 0 || fwrite(parts[i], 1, sizes[i], f) == sizes[i];
    if (f)
        ok = (fclose(f) == 0) && ok;
    else
        close(fd);
    if (ok)
        ok = rename(tmp, path) == 0;
    hb_status st = HB_OK;
    if (!ok) {
        st = hb_frame_fail(HB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    hb_free(tmp);
    return st;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* n elements of dtype d from a file's bytes (at any alignment) into dst, of dst_dtype: float32
 * for the other float widths, else d itself. */
static void read_elements(void *dst, hb_dtype dst_dtype, hb_dtype d, const unsigned char *src,
                          int64_t n)
{
    size_t es = hb_dtypes[d].size;
    if (dst_dtype == d) {
        memcpy(dst, src, es * (size_t)n);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double e; /* 8 aligned bytes for one element of any dtype */
        memcpy(&e, src + es * (size_t)i, es);
        ((float *)dst)[i] = (float)hb_dtype_get(d, &e, 0);
    }
}

/* What a file's dtype loads as: floats of every width as float32, what hybrid computes in
 * (a half-precision checkpoint); integers and bool keep their dtype. */
static hb_dtype loaded_dtype(hb_dtype d)
{
    return hb_dtypes[d].kind == HB_KIND_FLOAT ? HB_F32 : d;
}

/* ---- safetensors -------------------------------------------------------------------------- */

/* A non-negative integer that a double holds exactly (JSON numbers arrive as doubles). */
static bool json_uint(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
        return false;
    *out = (int64_t)v;
    return true;
}

typedef struct range {
    uint64_t begin, end;
    const char *name;
} range;

static int by_begin(const void *a, const void *b)
{
    const range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* One tensor's header entry checked against the data region; the tensor read into *out. */
static hb_status read_entry(const char *path, const cJSON *e, const unsigned char *data,
                            uint64_t data_size, hb_tensor **out, range *r)
{
    const char *name = e->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsObject(e) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return hb_frame_fail(HB_ERR_FORMAT,
                             "%s: tensor \"%s\": needs dtype, shape and data_offsets "
                             "[begin, end]", path, name);
    hb_dtype d = HB_DTYPE_COUNT;
    for (int i = 0; i < HB_DTYPE_COUNT; i++)
        if (strcmp(dtype->valuestring, hb_dtypes[i].safetensors) == 0)
            d = (hb_dtype)i;
    if (d == HB_DTYPE_COUNT)
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s; hybrid reads "
                             "numbers (F32, F16, BF16, F64, I64, U8, ...) and BOOL", path, name,
                             dtype->valuestring);
    int esize = (int)hb_dtypes[d].size;
    hb_shape s = {.ndim = cJSON_GetArraySize(shape)};
    if (s.ndim > HB_MAX_DIMS)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\" has %d dims (at most %d)", path,
                             name, s.ndim, HB_MAX_DIMS);
    int64_t numel = 1, bytes, begin, end;
    for (int i = 0; i < s.ndim; i++)
        if (!json_uint(cJSON_GetArrayItem(shape, i), &s.dim[i]) ||
            !hb_mul_ok(numel, s.dim[i], &numel))
            return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": shape entry %d is not a valid "
                                 "size, or the shape is too large", path, name, i);
    if (!hb_mul_ok(numel, esize, &bytes) || !json_uint(cJSON_GetArrayItem(offs, 0), &begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &end) || begin > end)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": bad data_offsets", path, name);
    if ((uint64_t)end > data_size)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": data_offsets [%lld, %lld] run past "
                             "the data (%llu bytes): the file is truncated or the header lies",
                             path, name, (long long)begin, (long long)end,
                             (unsigned long long)data_size);
    if (end - begin != bytes) {
        char sb[96];
        return hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\": shape %s of %s needs %lld bytes, "
                             "data_offsets give %lld", path, name, hb_shape_fmt(&s, sb, sizeof sb),
                             dtype->valuestring, (long long)bytes, (long long)(end - begin));
    }
    hb_tensor *t = hb_tensor_alloc_typed(&s, loaded_dtype(d));
    if (!t)
        return hb_last_status();
    read_elements(t->data, t->dtype, d, data + begin, numel);
    *out = t;
    *r = (range){(uint64_t)begin, (uint64_t)end, name};
    return HB_OK;
}

static hb_status parse_safetensors(const char *path, const unsigned char *buf, size_t size,
                                   hb_state_dict *out)
{
    if (size < 8)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: truncated: %zu bytes, but a safetensors file "
                             "starts with an 8-byte header length", path, size);
    uint64_t hlen = le64(buf);
    if (hlen > size - 8)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: header length %llu runs past the end of the file "
                             "(%zu bytes)", path, (unsigned long long)hlen, size);
    const char *text = (const char *)buf + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, false);
    bool only_padding = root != NULL;
    for (const char *p = end; only_padding && p < text + hlen; p++)
        only_padding = *p == ' '; /* the format pads the header with spaces, nothing else */
    if (!cJSON_IsObject(root) || !only_padding) {
        cJSON_Delete(root);
        return hb_frame_fail(HB_ERR_FORMAT, "%s: the header is not one JSON object (padded with "
                             "spaces)", path);
    }
    const unsigned char *data = buf + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    int n = cJSON_GetArraySize(root);
    range *ranges = hb_calloc((size_t)n + 1, sizeof *ranges);
    out->items = hb_calloc((size_t)n + 1, sizeof *out->items);
    hb_status st = ranges && out->items ? HB_OK : HB_ERR_NOMEM;
    int nr = 0;
    for (const cJSON *e = root->child; e && st == HB_OK; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        for (int i = 0; i < out->count && st == HB_OK; i++)
            if (strcmp(out->items[i].name, e->string) == 0)
                st = hb_frame_fail(HB_ERR_FORMAT, "%s: tensor \"%s\" appears twice", path,
                                   e->string);
        hb_tensor *t = NULL;
        if (st == HB_OK)
            st = read_entry(path, e, data, data_size, &t, &ranges[nr]);
        if (st != HB_OK)
            break;
        hb_named_tensor *it = &out->items[out->count++];
        *it = (hb_named_tensor){.name = hb_strdup(e->string), .value = t, .trainable = true,
                                .ndim = t->shape.ndim};
        memcpy(it->shape, t->shape.dim, sizeof it->shape);
        ranges[nr++].name = it->name;
        if (!it->name)
            st = HB_ERR_NOMEM;
    }
    if (st == HB_OK) { /* tensors must not share bytes; an empty one shares none */
        qsort(ranges, (size_t)nr, sizeof *ranges, by_begin);
        int furthest = 0; /* the range reaching furthest so far */
        for (int i = 1; i < nr && st == HB_OK; i++) {
            if (ranges[i].begin < ranges[furthest].end && ranges[i].begin < ranges[i].end)
                st = hb_frame_fail(HB_ERR_FORMAT,
                                   "%s: tensors \"%s\" and \"%s\" overlap in the data", path,
                                   ranges[furthest].name, ranges[i].name);
            if (ranges[i].end > ranges[furthest].end)
                furthest = i;
        }
    }
    hb_free(ranges);
    cJSON_Delete(root);
    return st;
}

hb_status hb_io_safetensors_parse(const char *name, const unsigned char *buf, size_t size,
                                  hb_state_dict *out)
{
    *out = (hb_state_dict){0};
    hb_status st = parse_safetensors(name, buf, size, out);
    if (st != HB_OK)
        hb_state_dict_free(out);
    return st;
}

hb_status hb_safetensors_load(const char *path, hb_state_dict *out)
{
    if (!path || !out)
        return hb_frame_fail(HB_ERR_ARG, "hb_safetensors_load: path or out is NULL");
    *out = (hb_state_dict){0};
    unsigned char *buf;
    size_t size;
    hb_status st = read_file(path, &buf, &size);
    if (st != HB_OK)
        return st;
    st = parse_safetensors(path, buf, size, out);
    hb_free(buf);
    if (st != HB_OK)
        hb_state_dict_free(out);
    return st;
}

hb_status hb_safetensors_save(const char *path, int count, const char *const *names,
                              hb_tensor *const *tensors)
{
    if (!path || count < 0 || (count && (!names || !tensors)))
        return hb_frame_fail(HB_ERR_ARG, "hb_safetensors_save: bad arguments");
    cJSON *root = cJSON_CreateObject(); /* cJSON's own allocator: its hooks are the app's */
    hb_status st = root ? HB_OK : HB_ERR_NOMEM;
    int64_t offset = 0;
    for (int i = 0; i < count && st == HB_OK; i++) {
        const hb_tensor *t = tensors[i];
        if (!t || !names[i] || cJSON_GetObjectItemCaseSensitive(root, names[i])) {
            st = hb_frame_fail(HB_ERR_ARG, "%s: tensor %d (\"%s\") is NULL or its name repeats",
                               path, i, names[i] ? names[i] : "");
            break;
        }
        cJSON *e = cJSON_AddObjectToObject(root, names[i]);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        if (!e || !cJSON_AddStringToObject(e, "dtype", hb_dtypes[t->dtype].safetensors) ||
            !shape || !offs) {
            st = HB_ERR_NOMEM;
            break;
        }
        for (int d = 0; d < t->shape.ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape.dim[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        offset += t->numel * (int64_t)hb_dtypes[t->dtype].size;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
    }
    char *json = st == HB_OK ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (st != HB_OK || !json)
        return st != HB_OK ? st : hb_frame_fail(HB_ERR_NOMEM, "%s: out of memory", path);
    /* The data starts 8-byte aligned: pad the header with spaces, as the format allows. */
    size_t jlen = strlen(json), hlen = (jlen + 7) & ~(size_t)7;
    char *header = hb_malloc(8 + hlen);
    if (!header) {
        cJSON_free(json);
        return HB_ERR_NOMEM;
    }
    for (int i = 0; i < 8; i++)
        header[i] = (char)((uint64_t)hlen >> (8 * i));
    memcpy(header + 8, json, jlen);
    memset(header + 8 + jlen, ' ', hlen - jlen);
    cJSON_free(json);
    const void **parts = hb_malloc(sizeof *parts * ((size_t)count + 1));
    size_t *sizes = hb_malloc(sizeof *sizes * ((size_t)count + 1));
    if (parts && sizes) {
        parts[0] = header, sizes[0] = 8 + hlen;
        for (int i = 0; i < count; i++)
            parts[i + 1] = tensors[i]->data,
            sizes[i + 1] = (size_t)tensors[i]->numel * hb_dtypes[tensors[i]->dtype].size;
        st = write_file(path, count + 1, parts, sizes);
    } else {
        st = HB_ERR_NOMEM;
    }
    hb_free(parts), hb_free(sizes), hb_free(header);
    return st;
}

/* ---- parameters of a block tree ----------------------------------------------------------- */

typedef struct slot {
    const char *name;
    hb_block *owner;
    hb_param *p;
} slot;

typedef struct slots {
    slot *items;
    char **names;
    int count;
} slots;

static hb_status gather(void *ctx, const char *name, hb_block *owner, hb_param *p)
{
    slots *s = ctx;
    slot *items = hb_realloc(s->items, sizeof *items * (size_t)(s->count + 1));
    char **names = items ? hb_realloc(s->names, sizeof *names * (size_t)(s->count + 1)) : NULL;
    if (items)
        s->items = items;
    if (names)
        s->names = names;
    if (!items || !names || !(names[s->count] = hb_strdup(name)))
        return HB_ERR_NOMEM;
    items[s->count] = (slot){names[s->count], owner, p};
    s->count++;
    return HB_OK;
}

static void slots_free(slots *s)
{
    for (int i = 0; i < s->count; i++)
        hb_free(s->names[i]);
    hb_free(s->names);
    hb_free(s->items);
}

static bool shape_fits(const hb_param *p, const hb_tensor *t)
{
    if (p->shape.ndim != t->shape.ndim)
        return false;
    for (int i = 0; i < p->shape.ndim; i++)
        if (p->shape.dim[i] != 0 && p->shape.dim[i] != t->shape.dim[i])
            return false;
    return true;
}

static const hb_named_tensor *find_named(const hb_state_dict *sd, const char *name)
{
    for (int i = 0; i < sd->count; i++)
        if (strcmp(sd->items[i].name, name) == 0)
            return &sd->items[i];
    return NULL;
}

/* Every name and shape is checked before anything changes, so a bad file leaves the block as
 * it was. */
static hb_status check_load(const char *path, const slots *s, const hb_state_dict *file)
{
    for (int i = 0; i < s->count; i++) {
        const hb_named_tensor *e = find_named(file, s->items[i].name);
        char have[96], need[96];
        if (!e)
            return hb_frame_fail(HB_ERR_NAME, "%s: missing parameter \"%s\" (the model needs %s)",
                                 path, s->items[i].name,
                                 hb_block_param_shape_fmt(s->items[i].p, need, sizeof need));
        if (!shape_fits(s->items[i].p, e->value))
            return hb_frame_fail(HB_ERR_SHAPE, "%s: parameter \"%s\" is %s in the file, the model "
                                 "needs %s", path, e->name,
                                 hb_shape_fmt(&e->value->shape, have, sizeof have),
                                 hb_block_param_shape_fmt(s->items[i].p, need, sizeof need));
        /* A shared block is listed under each of its names: all must agree on its shapes. */
        for (int j = 0; j < i; j++) {
            const hb_named_tensor *first = find_named(file, s->items[j].name);
            if (s->items[j].p == s->items[i].p &&
                !hb_shape_equal(&first->value->shape, &e->value->shape))
                return hb_frame_fail(HB_ERR_SHAPE,
                                     "%s: \"%s\" %s and \"%s\" %s name the same shared "
                                     "parameter but differ in shape", path, first->name,
                                     hb_shape_fmt(&first->value->shape, have, sizeof have), e->name,
                                     hb_shape_fmt(&e->value->shape, need, sizeof need));
        }
    }
    for (int i = 0; i < file->count; i++) {
        bool known = false;
        for (int j = 0; j < s->count && !known; j++)
            known = strcmp(s->items[j].name, file->items[i].name) == 0;
        if (!known)
            return hb_frame_fail(HB_ERR_NAME, "%s: unknown parameter \"%s\" (the model has %d, the "
                                 "first \"%s\")", path, file->items[i].name, s->count,
                                 s->count ? s->items[0].name : "none");
    }
    return HB_OK;
}

hb_status hb_block_load(hb_block *b, const char *path)
{
    if (!b || !path)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_load: block or path is NULL");
    hb_state_dict file;
    hb_status st = hb_safetensors_load(path, &file);
    if (st != HB_OK)
        return st;
    slots s = {0};
    st = hb_block_walk(b, gather, &s);
    if (st == HB_OK)
        st = check_load(path, &s, &file);
    for (int i = 0; i < s.count && st == HB_OK; i++)
        st = hb_block_param_assign(s.items[i].p,
                                   find_named(&file, s.items[i].name)->value);
    slots_free(&s);
    hb_state_dict_free(&file);
    if (st == HB_OK)
        hb_hybrid_drop_plans(b); /* compiled against the old values: trace again */
    return st;
}

hb_status hb_block_save(hb_block *b, const char *path)
{
    if (!b || !path)
        return hb_frame_fail(HB_ERR_ARG, "hb_block_save: block or path is NULL");
    slots s = {0};
    hb_status st = hb_block_walk(b, gather, &s);
    hb_tensor **values = st == HB_OK ? hb_calloc((size_t)s.count + 1, sizeof *values) : NULL;
    if (st == HB_OK && !values)
        st = HB_ERR_NOMEM;
    for (int i = 0; i < s.count && st == HB_OK; i++) {
        char sb[96];
        if (!(values[i] = s.items[i].p->value))
            st = hb_frame_fail(HB_ERR_STATE, "%s: parameter \"%s\" is still deferred (shape %s): "
                               "call the block once before saving", path, s.items[i].name,
                               hb_block_param_shape_fmt(s.items[i].p, sb, sizeof sb));
    }
    if (st == HB_OK)
        st = hb_safetensors_save(path, s.count, (const char *const *)s.names, values);
    hb_free(values);
    slots_free(&s);
    return st;
}

/* ---- .npy --------------------------------------------------------------------------------- */

typedef struct npy_header {
    char descr[16];
    bool fortran, have_descr, have_fortran, have_shape;
    hb_shape shape;
} npy_header;

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *parse_quoted(const char *p, const char *end, char *out, size_t size)
{
    if (p >= end || (*p != '\'' && *p != '"'))
        return NULL;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (n + 1 >= size)
            return NULL;
        out[n++] = *p++;
    }
    out[n] = '\0';
    return p < end ? p + 1 : NULL;
}

static const char *parse_shape(const char *p, const char *end, hb_shape *s)
{
    if (p >= end || *p != '(')
        return NULL;
    p = skip_space(p + 1, end);
    s->ndim = 0;
    while (p < end && *p != ')') {
        if (s->ndim == HB_MAX_DIMS || *p < '0' || *p > '9')
            return NULL;
        int64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (!hb_mul_ok(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
                return NULL;
            p++;
        }
        s->dim[s->ndim++] = v;
        p = skip_space(p, end);
        if (p < end && *p == ',')
            p = skip_space(p + 1, end);
        else if (p < end && *p != ')')
            return NULL;
    }
    return p < end ? p + 1 : NULL;
}

/* The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2,)} */
static bool parse_npy_header(const char *p, const char *end, npy_header *h)
{
    p = skip_space(p, end);
    if (p >= end || *p++ != '{')
        return false;
    for (;;) {
        p = skip_space(p, end);
        if (p < end && *p == '}')
            break;
        char key[32];
        if (!(p = parse_quoted(p, end, key, sizeof key)))
            return false;
        p = skip_space(p, end);
        if (p >= end || *p++ != ':')
            return false;
        p = skip_space(p, end);
        if (strcmp(key, "descr") == 0) {
            if (!(p = parse_quoted(p, end, h->descr, sizeof h->descr)))
                return false;
            h->have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (end - p >= 4 && memcmp(p, "True", 4) == 0)
                h->fortran = true, p += 4;
            else if (end - p >= 5 && memcmp(p, "False", 5) == 0)
                h->fortran = false, p += 5;
            else
                return false;
            h->have_fortran = true;
        } else if (strcmp(key, "shape") == 0) {
            if (!(p = parse_shape(p, end, &h->shape)))
                return false;
            h->have_shape = true;
        } else {
            return false;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',')
            p++;
        else if (p >= end || *p != '}')
            return false;
    }
    return h->have_descr && h->have_fortran && h->have_shape;
}

static hb_tensor *parse_npy(const char *path, const unsigned char *buf, size_t size)
{
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)",
                             path), NULL;
    int major = buf[6];
    size_t start = major == 1 ? 10 : 12;
    if (major < 1 || major > 3 || size < start)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: unknown .npy version %d.%d or truncated", path,
                             major, buf[7]), NULL;
    uint64_t hlen = major == 1 ? (uint64_t)(buf[8] | buf[9] << 8)
                               : (uint64_t)buf[8] | (uint64_t)buf[9] << 8 |
                                     (uint64_t)buf[10] << 16 | (uint64_t)buf[11] << 24;
    if (hlen > size - start)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: header length %llu runs past the end of the file "
                             "(%zu bytes)", path, (unsigned long long)hlen, size), NULL;
    npy_header h = {0};
    const char *text = (const char *)buf + start;
    if (!parse_npy_header(text, text + hlen, &h))
        return hb_frame_fail(HB_ERR_FORMAT,
                             "%s: cannot read the header dict (descr, fortran_order, " "shape)",
                             path), NULL;
    hb_dtype d = HB_DTYPE_COUNT;
    for (int i = 0; i < HB_DTYPE_COUNT; i++)
        if (hb_dtypes[i].npy && strcmp(h.descr, hb_dtypes[i].npy) == 0)
            d = (hb_dtype)i;
    if (d == HB_DTYPE_COUNT)
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported; hybrid reads "
                             "little-endian numbers ('<f4', '<f8', '<f2', '<i8', '|u1', ...) and "
                             "bool ('|b1')", path, h.descr), NULL;
    int esize = (int)hb_dtypes[d].size;
    if (h.fortran && h.shape.ndim > 1)
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "%s: Fortran-ordered arrays are not supported; "
                             "save with numpy.ascontiguousarray", path), NULL;
    int64_t numel = 1, bytes;
    for (int i = 0; i < h.shape.ndim; i++)
        if (!hb_mul_ok(numel, h.shape.dim[i], &numel))
            return hb_frame_fail(HB_ERR_FORMAT, "%s: the shape is too large", path), NULL;
    uint64_t avail = size - start - hlen;
    char sb[96];
    if (!hb_mul_ok(numel, esize, &bytes) || (uint64_t)bytes != avail)
        return hb_frame_fail(HB_ERR_FORMAT, "%s: shape %s of %s needs %lld bytes of data, the file "
                             "has %llu (truncated or lying header)", path,
                             hb_shape_fmt(&h.shape, sb, sizeof sb), h.descr, (long long)bytes,
                             (unsigned long long)avail), NULL;
    hb_tensor *t = hb_tensor_alloc_typed(&h.shape, loaded_dtype(d));
    if (t)
        read_elements(t->data, t->dtype, d, buf + start + hlen, numel);
    return t;
}

hb_tensor *hb_io_npy_parse(const char *name, const unsigned char *buf, size_t size)
{
    return hb_frame_adopt(parse_npy(name, buf, size));
}

hb_tensor *hb_npy_load(const char *path)
{
    if (!path)
        return hb_frame_fail(HB_ERR_ARG, "hb_npy_load: path is NULL"), NULL;
    unsigned char *buf;
    size_t size;
    if (read_file(path, &buf, &size) != HB_OK)
        return NULL;
    hb_tensor *t = parse_npy(path, buf, size);
    hb_free(buf);
    return hb_frame_adopt(t);
}

hb_status hb_npy_save(const hb_tensor *t, const char *path)
{
    if (!t || !path)
        return hb_frame_fail(HB_ERR_ARG, "hb_npy_save: tensor or path is NULL");
    char dict[256], shape[160] = "";
    size_t used = 0;
    for (int i = 0; i < t->shape.ndim; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%lld,%s",
                                 (long long)t->shape.dim[i], i + 1 < t->shape.ndim ? " " : "");
    if (t->shape.ndim > 1) /* Python writes (2, 20) but (2,) */
        shape[used - 1] = '\0';
    const char *descr = hb_dtypes[t->dtype].npy;
    if (!descr)
        return hb_frame_fail(HB_ERR_UNSUPPORTED, "hb_npy_save: NumPy has no %s; cast the tensor",
                             hb_dtypes[t->dtype].name);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, shape);
    /* Pad with spaces and a newline so the data starts 64-byte aligned, as numpy writes. */
    size_t total = ((size_t)10 + (size_t)n + 1 + 63) & ~(size_t)63;
    size_t hlen = total - 10;
    unsigned char head[10 + sizeof dict + 64];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff), head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)n);
    memset(head + 10 + n, ' ', hlen - (size_t)n - 1);
    head[total - 1] = '\n';
    return write_file(path, 2, (const void *[]){head, t->data},
                      (size_t[]){total, (size_t)t->numel * hb_dtypes[t->dtype].size});
}
