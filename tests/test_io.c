/* The "io" suite: parameter files (safetensors) and data files (.npy).
 *
 * Every hostile file is written byte by byte here, so the suite needs nothing but its fixtures
 * (tests/data/<model>/...). Each reader failure must return NULL or an error status and leave a
 * message that names the file and says what is wrong; loads that fail leave blocks as they were;
 * saves that fail leave nothing behind. */
#include "harness.h"
#include "models.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BUF 1024
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------------------ */

/* temp_path() returns a static buffer: copy it so several paths can live at once. */
static char *tpath(char *buf, const char *name)
{
    snprintf(buf, PATH_BUF, "%s", temp_path(name));
    return buf;
}

/* A fresh, empty directory under the per-process temp dir. */
static char *tdir(char *buf, const char *name)
{
    tpath(buf, name);
    ck_assert_msg(mkdir(buf, 0700) == 0, "mkdir %s: %s", buf, strerror(errno));
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_uint_eq(n ? fwrite(data, 1, n, f) : 0, n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole file in a malloc'ed buffer (caller frees); NULL if it cannot be read. */
static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries of dir other than "." and ".."; the first one's name into first. */
static int dir_count(const char *dir, char *first, size_t size)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
    int n = 0;
    if (first && size)
        first[0] = '\0';
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ == 0 && first)
            snprintf(first, size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* The error names the file and the problem. */
static void assert_error_names(const char *path, const char *keyword)
{
    const char *msg = hb_last_error();
    ck_assert_msg(strstr(msg, path) != NULL, "error does not name the file %s: \"%s\"", path,
                  msg);
    if (keyword)
        ck_assert_msg(strstr(msg, keyword) != NULL, "error does not mention \"%s\": \"%s\"",
                      keyword, msg);
}

static void expect_npy_error(const char *path, hb_status status, const char *keyword)
{
    hb_clear_error();
    hb_tensor *t = hb_npy_load(path);
    ck_assert_msg(t == NULL, "%s: loaded a hostile .npy file (expected \"%s\")", path, keyword);
    ck_assert_int_eq(hb_last_status(), status);
    assert_error_names(path, keyword);
}

static void expect_st_error(const char *path, hb_status status, const char *keyword)
{
    hb_clear_error();
    hb_state_dict sd = {.count = 123};
    hb_status st = hb_safetensors_load(path, &sd);
    ck_assert_msg(st != HB_OK, "%s: loaded a hostile safetensors file (expected \"%s\")", path,
                  keyword);
    ck_assert_int_eq(st, status);
    ck_assert_int_eq(hb_last_status(), status);
    assert_error_names(path, keyword);
    /* nothing handed out on failure */
    ck_assert_int_eq(sd.count, 0);
    ck_assert_ptr_null(sd.items);
    hb_state_dict_free(&sd);
}

/* A .npy file: magic, version, header length (2 or 4 bytes), header text, data. hlen < 0
 * means the real length of header. */
static void write_npy(const char *path, const char *magic, int major, int minor, long hlen,
                      const char *header, const void *data, size_t ndata)
{
    size_t htext = strlen(header), lenbytes = major >= 2 ? 4 : 2;
    size_t n = 8 + lenbytes + htext + ndata;
    unsigned char *buf = calloc(1, n);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, magic ? magic : "\x93NUMPY", 6);
    buf[6] = (unsigned char)major, buf[7] = (unsigned char)minor;
    uint64_t len = hlen < 0 ? htext : (uint64_t)hlen;
    for (size_t i = 0; i < lenbytes; i++)
        buf[8 + i] = (unsigned char)(len >> (8 * i));
    memcpy(buf + 8 + lenbytes, header, htext);
    if (ndata)
        memcpy(buf + 8 + lenbytes + htext, data, ndata);
    write_bytes(path, buf, n);
    free(buf);
}

/* A safetensors file: 8-byte little-endian header length, the JSON, then data. */
static void write_st_len(const char *path, uint64_t hlen, const char *json, const void *data,
                         size_t ndata)
{
    size_t jlen = strlen(json), n = 8 + jlen + ndata;
    unsigned char *buf = calloc(1, n);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, json, jlen);
    if (ndata) {
        if (data)
            memcpy(buf + 8 + jlen, data, ndata);
        else
            for (size_t i = 0; i < ndata; i++)
                buf[8 + jlen + i] = (unsigned char)(i * 7 + 1);
    }
    write_bytes(path, buf, n);
    free(buf);
}

static void write_st(const char *path, const char *json, const void *data, size_t ndata)
{
    write_st_len(path, strlen(json), json, data, ndata);
}

static void assert_shape(const hb_tensor *t, int ndim, const int64_t *shape)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(hb_tensor_ndim(t), ndim);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        ck_assert_int_eq(hb_tensor_shape(t)[i], shape[i]);
        numel *= shape[i];
    }
    ck_assert_int_eq(hb_tensor_numel(t), numel);
}

static bool bits_equal(const hb_tensor *a, const hb_tensor *b)
{
    return hb_tensor_same_shape(a, b) &&
           (hb_tensor_numel(a) == 0 ||
            memcmp(hb_tensor_cdata(a), hb_tensor_cdata(b),
                   sizeof(float) * (size_t)hb_tensor_numel(a)) == 0);
}

static const hb_named_tensor *sd_find(const hb_state_dict *sd, const char *name)
{
    for (int i = 0; i < sd->count; i++)
        if (strcmp(sd->items[i].name, name) == 0)
            return &sd->items[i];
    return NULL;
}

/* A deep copy of a block's state: names, shapes and values (NULL while deferred). */
typedef struct snapshot {
    hb_state_dict sd;
    hb_tensor **values;
} snapshot;

static snapshot take_snapshot(hb_block *b)
{
    snapshot s = {0};
    ck_assert_int_eq(hb_block_state_dict(b, &s.sd), HB_OK);
    s.values = calloc((size_t)s.sd.count + 1, sizeof *s.values);
    ck_assert_ptr_nonnull(s.values);
    for (int i = 0; i < s.sd.count; i++)
        s.values[i] = s.sd.items[i].value ? hb_tensor_copy(s.sd.items[i].value) : NULL;
    return s;
}

static void snapshot_free(snapshot *s)
{
    for (int i = 0; i < s->sd.count; i++)
        hb_tensor_release(s->values[i]);
    free(s->values);
    hb_state_dict_free(&s->sd);
}

/* b's state now equals the snapshot: same names and shapes, bit-equal values, deferred
 * parameters still deferred. */
static void assert_unchanged(hb_block *b, const snapshot *s)
{
    hb_state_dict now;
    ck_assert_int_eq(hb_block_state_dict(b, &now), HB_OK);
    ck_assert_int_eq(now.count, s->sd.count);
    for (int i = 0; i < now.count; i++) {
        const hb_named_tensor *a = &now.items[i], *e = &s->sd.items[i];
        ck_assert_str_eq(a->name, e->name);
        ck_assert_int_eq(a->ndim, e->ndim);
        for (int d = 0; d < a->ndim; d++)
            ck_assert_int_eq(a->shape[d], e->shape[d]);
        if (!s->values[i]) {
            ck_assert_msg(a->value == NULL, "deferred \"%s\" got values from a failed load",
                          a->name);
        } else {
            ck_assert_msg(a->value && bits_equal(a->value, s->values[i]),
                          "\"%s\" changed in a failed load", a->name);
        }
    }
    hb_state_dict_free(&now);
}

/* Saves the tensors of sd (except the one called skip) plus extra under extra_name. */
static void save_dict(const char *path, const hb_state_dict *sd, const char *skip,
                      const char *extra_name, hb_tensor *extra)
{
    const char *names[64];
    hb_tensor *values[64];
    int n = 0;
    for (int i = 0; i < sd->count; i++)
        if (!skip || strcmp(sd->items[i].name, skip) != 0) {
            ck_assert_int_lt(n, 64);
            names[n] = sd->items[i].name, values[n++] = sd->items[i].value;
        }
    if (extra_name)
        names[n] = extra_name, values[n++] = extra;
    ck_assert_msg(hb_safetensors_save(path, n, names, values) == HB_OK, "%s", hb_last_error());
}

static hb_tensor *load_fixture(const char *model, const char *file)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/%s", model, file);
    hb_tensor *t = hb_npy_load(data_path(rel));
    ck_assert_tensor_ok(t);
    return t;
}

/* ---- npy ---------------------------------------------------------------------------------- */

START_TEST(npy_fixture_shapes)
{
    hb_tensor *x = load_fixture("mlp", "input.npy");
    assert_shape(x, 2, (const int64_t[]){2, 20});
    ck_assert_int_eq(hb_tensor_dtype(x), HB_F32);
    for (int64_t i = 0; i < hb_tensor_numel(x); i++)
        ck_assert(isfinite(hb_tensor_cdata(x)[i]));
    hb_tensor *y = load_fixture("mlp", "output.npy");
    assert_shape(y, 2, (const int64_t[]){2, 10});
    hb_tensor *s = load_fixture("chimera", "output.npy"); /* a 0-d array: shape () */
    assert_shape(s, 0, NULL);
    hb_tensor *p = load_fixture("parallel", "output.npy");
    assert_shape(p, 2, (const int64_t[]){2, 96});
    hb_tensor_release(x), hb_tensor_release(y), hb_tensor_release(s), hb_tensor_release(p);
}
END_TEST

/* Python's repr of a shape tuple, as numpy writes it in the header. */
static const struct {
    int ndim;
    int64_t shape[HB_MAX_DIMS];
    const char *repr;
} roundtrip_shapes[] = {
    {0, {0}, "()"},
    {1, {5}, "(5,)"},
    {2, {2, 3}, "(2, 3)"},
    {3, {2, 3, 4}, "(2, 3, 4)"},
    {2, {0, 4}, "(0, 4)"},
    {1, {0}, "(0,)"},
    {8, {1, 2, 1, 2, 1, 2, 1, 3}, "(1, 2, 1, 2, 1, 2, 1, 3)"},
};

START_TEST(npy_roundtrip)
{
    int ndim = roundtrip_shapes[_i].ndim;
    const int64_t *shape = roundtrip_shapes[_i].shape;
    hb_rng rng;
    hb_rng_seed(&rng, 42 + (uint64_t)_i);
    hb_tensor *t = hb_randn(ndim, shape, &rng);
    ck_assert_tensor_ok(t);
    if (hb_tensor_numel(t) >= 4) { /* special values must survive bit for bit */
        float *d = hb_tensor_data(t);
        d[0] = -0.0f, d[1] = INFINITY, d[2] = NAN, d[3] = 1e-45f;
    }
    char path[PATH_BUF], name[64];
    snprintf(name, sizeof name, "roundtrip-%d.npy", _i);
    tpath(path, name);
    ck_assert_msg(hb_npy_save(t, path) == HB_OK, "%s", hb_last_error());

    /* The header by numpy's rules: magic, version 1.0, little-endian length, a dict that ends
     * in '\n', data starting 64-byte aligned and exactly numel * 4 bytes of it. */
    size_t size;
    unsigned char *buf = read_bytes(path, &size);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_ge(size, 10);
    ck_assert(memcmp(buf, "\x93NUMPY", 6) == 0);
    ck_assert_int_eq(buf[6], 1);
    ck_assert_int_eq(buf[7], 0);
    size_t hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_uint_le(10 + hlen, size);
    ck_assert_uint_eq(size - 10 - hlen, (size_t)hb_tensor_numel(t) * 4);
    ck_assert_int_eq(buf[10 + hlen - 1], '\n');
    char header[1024];
    ck_assert_uint_lt(hlen, sizeof header);
    memcpy(header, buf + 10, hlen);
    header[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++)
        ck_assert_msg(buf[10 + i] >= 0x20 || buf[10 + i] == '\n', "non-ASCII header byte");
    ck_assert_msg(header[0] == '{', "header: %s", header);
    ck_assert_msg(strstr(header, "'descr': '<f4'"), "header: %s", header);
    ck_assert_msg(strstr(header, "'fortran_order': False"), "header: %s", header);
    char want[128];
    snprintf(want, sizeof want, "'shape': %s", roundtrip_shapes[_i].repr);
    ck_assert_msg(strstr(header, want), "header %s lacks %s", header, want);
    if (hb_tensor_numel(t))
        ck_assert(memcmp(buf + 10 + hlen, hb_tensor_cdata(t), (size_t)hb_tensor_numel(t) * 4) ==
                  0);
    free(buf);

    hb_tensor *u = hb_npy_load(path);
    ck_assert_tensor_ok(u);
    assert_shape(u, ndim, shape);
    ck_assert(bits_equal(t, u));
    hb_tensor_release(t), hb_tensor_release(u);
    unlink(path);
}
END_TEST

START_TEST(npy_f8_converted)
{
    const double v[6] = {1.5, -2.25, 1e-3, 3.4e38, -0.0, 123456.789};
    char path[PATH_BUF];
    tpath(path, "f8.npy");
    write_npy(path, NULL, 1, 0, -1,
              "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }          \n", v,
              sizeof v);
    hb_tensor *t = hb_npy_load(path);
    ck_assert_tensor_ok(t);
    ck_assert_int_eq(hb_tensor_dtype(t), HB_F32);
    assert_shape(t, 2, (const int64_t[]){2, 3});
    for (int i = 0; i < 6; i++)
        ck_assert_msg(memcmp(&hb_tensor_cdata(t)[i], &(float){(float)v[i]}, 4) == 0,
                      "element %d: %g, want %g", i, (double)hb_tensor_cdata(t)[i], v[i]);
    hb_tensor_release(t);
}
END_TEST

/* Integers and bool keep their dtype through a save and a load; float16 loads as float32. */
START_TEST(npy_typed_roundtrip)
{
    const int64_t ids[6] = {0, -1, INT64_MAX, 7, 1 << 20, -300};
    const uint8_t mask[3] = {1, 0, 1};
    char path[PATH_BUF];
    hb_tensor *t = hb_tensor_from_typed(HB_I64, ids, HB_SHAPE(2, 3));
    hb_tensor *m = hb_tensor_from_typed(HB_BOOL, mask, HB_SHAPE(3));
    tpath(path, "ids.npy");
    ck_assert_int_eq(hb_npy_save(t, path), HB_OK);
    hb_tensor *back = hb_npy_load(path);
    ck_assert_tensor_ok(back);
    ck_assert_int_eq(hb_tensor_dtype(back), HB_I64);
    ck_assert(memcmp(hb_tensor_raw(back), ids, sizeof ids) == 0);
    tpath(path, "mask.npy");
    ck_assert_int_eq(hb_npy_save(m, path), HB_OK);
    hb_tensor *mb = hb_npy_load(path);
    ck_assert_tensor_ok(mb);
    ck_assert_int_eq(hb_tensor_dtype(mb), HB_BOOL);
    ck_assert(memcmp(hb_tensor_raw(mb), mask, sizeof mask) == 0);
    const uint16_t halves[3] = {0x3c00 /* 1 */, 0xc000 /* -2 */, 0x7bff /* 65504 */};
    tpath(path, "f2.npy");
    write_npy(path, NULL, 1, 0, -1,
              "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }          \n", halves,
              sizeof halves);
    hb_tensor *h = hb_npy_load(path);
    ck_assert_tensor_ok(h);
    ck_assert_int_eq(hb_tensor_dtype(h), HB_F32);
    ck_assert(hb_tensor_cdata(h)[0] == 1.0f && hb_tensor_cdata(h)[1] == -2.0f &&
              hb_tensor_cdata(h)[2] == 65504.0f);
    hb_tensor *bf = hb_cast(t, HB_BF16);
    ck_assert_int_eq(hb_npy_save(bf, path), HB_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(hb_last_error(), "NumPy has no bfloat16"), "%s", hb_last_error());
    hb_clear_error();
    hb_tensor *all[] = {t, m, back, mb, h, bf};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hb_tensor_release(all[i]);
}
END_TEST

/* Other files numpy writes and hybrid promises to read: version 2.0 (4-byte header length),
 * a 1-D array marked fortran_order (the same bytes either way), a scalar, no trailing comma. */
START_TEST(npy_other_valid_headers)
{
    const float v[4] = {1, 2, 3, 4};
    char path[PATH_BUF];
    tpath(path, "v2.npy");
    write_npy(path, NULL, 2, 0, -1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}\n",
              v, sizeof v);
    hb_tensor *t = hb_npy_load(path);
    ck_assert_tensor_ok(t);
    assert_shape(t, 1, (const int64_t[]){4});
    ck_assert(memcmp(hb_tensor_cdata(t), v, sizeof v) == 0);
    hb_tensor_release(t);

    tpath(path, "fortran1d.npy");
    write_npy(path, NULL, 1, 0, -1, "{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }\n",
              v, sizeof v);
    t = hb_npy_load(path);
    ck_assert_tensor_ok(t);
    assert_shape(t, 1, (const int64_t[]){4});
    ck_assert(memcmp(hb_tensor_cdata(t), v, sizeof v) == 0);
    hb_tensor_release(t);

    tpath(path, "scalar.npy");
    write_npy(path, NULL, 1, 0, -1, "{'shape': (), 'fortran_order': False, 'descr': '<f4'}\n",
              v, 4);
    t = hb_npy_load(path);
    ck_assert_tensor_ok(t);
    assert_shape(t, 0, NULL);
    ck_assert(hb_item(t) == 1.0f);
    hb_tensor_release(t);
}
END_TEST

START_TEST(npy_save_errors)
{
    hb_tensor *t = hb_ones(HB_SHAPE(2, 3));
    char path[PATH_BUF];
    tpath(path, "no-such-dir/sub/x.npy");
    hb_clear_error();
    ck_assert_int_eq(hb_npy_save(t, path), HB_ERR_IO);
    ck_assert_int_eq(hb_last_status(), HB_ERR_IO);
    assert_error_names(path, NULL);

    /* The destination is a directory: the rename fails, and the temp file must not stay. */
    char dir[PATH_BUF], target[PATH_BUF + 64], first[256];
    tdir(dir, "save-onto-dir");
    snprintf(target, sizeof target, "%s/target.npy", dir);
    ck_assert_int_eq(mkdir(target, 0700), 0);
    hb_clear_error();
    ck_assert_int_eq(hb_npy_save(t, target), HB_ERR_IO);
    assert_error_names(target, NULL);
    ck_assert_int_eq(dir_count(dir, first, sizeof first), 1);
    ck_assert_str_eq(first, "target.npy");

    hb_clear_error();
    ck_assert_int_eq(hb_npy_save(NULL, path), HB_ERR_ARG);
    ck_assert_int_eq(hb_npy_save(t, NULL), HB_ERR_ARG);
    ck_assert_ptr_null(hb_npy_load(NULL));
    ck_assert_int_eq(hb_last_status(), HB_ERR_ARG);
    hb_tensor_release(t);
}
END_TEST

/* Saving replaces an existing file as a whole. */
START_TEST(npy_save_overwrites)
{
    char path[PATH_BUF];
    tpath(path, "overwrite.npy");
    hb_tensor *big = hb_full(HB_SHAPE(100, 10), 7.0f);
    hb_tensor *small = hb_full(HB_SHAPE(3), -1.0f);
    ck_assert_int_eq(hb_npy_save(big, path), HB_OK);
    ck_assert_int_eq(hb_npy_save(small, path), HB_OK);
    hb_tensor *u = hb_npy_load(path);
    ck_assert_tensor_ok(u);
    ck_assert(bits_equal(u, small));
    hb_tensor_release(big), hb_tensor_release(small), hb_tensor_release(u);
}
END_TEST

START_TEST(npy_save_long_file_name)
{
    char name[251];
    memset(name, 'n', 250);
    memcpy(name + 246, ".npy", 5);
    char path[PATH_BUF];
    tpath(path, name);
    hb_tensor *t = hb_ones(HB_SHAPE(2));
    hb_status st = hb_npy_save(t, path);
    hb_tensor *u = st == HB_OK ? hb_npy_load(path) : NULL;
    bool same = u && bits_equal(t, u);
    hb_tensor_release(t), hb_tensor_release(u); /* released first: the checks may fail */
    unlink(path);
    ck_assert_msg(st == HB_OK, "saving to a 250-byte file name failed: %s", hb_last_error());
    ck_assert_msg(same, "the long-named file did not load back: %s", hb_last_error());
}
END_TEST

/* ---- npy: hostile files ------------------------------------------------------------------- */

START_TEST(npy_missing_file)
{
    char path[PATH_BUF];
    tpath(path, "does-not-exist.npy");
    expect_npy_error(path, HB_ERR_IO, "cannot open");
}
END_TEST

START_TEST(npy_directory)
{
    char path[PATH_BUF];
    tdir(path, "a-directory.npy");
    expect_npy_error(path, HB_ERR_IO, "not a regular file");
}
END_TEST

START_TEST(npy_empty_file)
{
    char path[PATH_BUF];
    tpath(path, "empty.npy");
    write_bytes(path, "", 0);
    expect_npy_error(path, HB_ERR_FORMAT, "magic");
    /* shorter than the fixed preamble, with a correct magic */
    tpath(path, "short.npy");
    write_bytes(path, "\x93NUMPY\x01", 7);
    expect_npy_error(path, HB_ERR_FORMAT, "magic");
    /* version 2.0 needs 12 bytes of preamble */
    tpath(path, "short-v2.npy");
    write_bytes(path, "\x93NUMPY\x02\x00\x00\x00\x00", 11);
    expect_npy_error(path, HB_ERR_FORMAT, "version");
}
END_TEST

#define GOOD_F4_23 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n"

static const struct npy_case {
    const char *what;
    const char *magic; /* NULL: \x93NUMPY */
    int major, minor;
    long hlen; /* -1: the real length */
    const char *header;
    size_t data_bytes;
    hb_status status;
    const char *keyword;
} npy_cases[] = {
    {"wrong magic", "\x93NUMPX", 1, 0, -1, GOOD_F4_23, 24, HB_ERR_FORMAT, "magic"},
    {"text file", "hello ", 1, 0, -1, GOOD_F4_23, 24, HB_ERR_FORMAT, "magic"},
    {"version 4.0", NULL, 4, 0, -1, GOOD_F4_23, 24, HB_ERR_FORMAT, "version"},
    {"version 0.0", NULL, 0, 0, -1, GOOD_F4_23, 24, HB_ERR_FORMAT, "version"},
    {"version 255.0", NULL, 255, 0, -1, GOOD_F4_23, 24, HB_ERR_FORMAT, "version"},
    {"header length past the end", NULL, 1, 0, 4000, GOOD_F4_23, 24, HB_ERR_FORMAT,
     "header length"},
    {"v2 header length past the end", NULL, 2, 0, 0x7fffffffL, GOOD_F4_23, 24, HB_ERR_FORMAT,
     "header length"},
    {"garbage header", NULL, 1, 0, -1, "this is not a python dict at all\n", 24, HB_ERR_FORMAT,
     "header"},
    {"binary header", NULL, 1, 0, -1, "\x01\x02\xff\xfe", 24, HB_ERR_FORMAT, "header"},
    {"empty header", NULL, 1, 0, -1, "", 24, HB_ERR_FORMAT, "header"},
    {"unterminated dict", NULL, 1, 0, -1, "{'descr': '<f4', 'fortran_order': False", 24,
     HB_ERR_FORMAT, "header"},
    {"unterminated string", NULL, 1, 0, -1, "{'descr': '<f4", 24, HB_ERR_FORMAT, "header"},
    {"unknown key", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}\n", 24,
     HB_ERR_FORMAT, "header"},
    {"missing shape", NULL, 1, 0, -1, "{'descr': '<f4', 'fortran_order': False, }\n", 24,
     HB_ERR_FORMAT, "header"},
    {"missing descr", NULL, 1, 0, -1, "{'fortran_order': False, 'shape': (2, 3), }\n", 24,
     HB_ERR_FORMAT, "header"},
    {"missing fortran_order", NULL, 1, 0, -1, "{'descr': '<f4', 'shape': (2, 3), }\n", 24,
     HB_ERR_FORMAT, "header"},
    {"fortran_order not a bool", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }\n", 24, HB_ERR_FORMAT, "header"},
    {"shape a list", NULL, 1, 0, -1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}\n",
     24, HB_ERR_FORMAT, "header"},
    {"dtype <c8", NULL, 1, 0, -1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }\n",
     48, HB_ERR_UNSUPPORTED, "<c8"},
    {"dtype <i8, data of <i4", NULL, 1, 0, -1,
     "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }\n", 24, HB_ERR_FORMAT,
     "needs 48 bytes"},
    {"dtype >f4", NULL, 1, 0, -1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }\n",
     24, HB_ERR_UNSUPPORTED, ">f4"},
    {"dtype |O", NULL, 1, 0, -1, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }\n",
     48, HB_ERR_UNSUPPORTED, "|O"},
    {"dtype <U4", NULL, 1, 0, -1, "{'descr': '<U4', 'fortran_order': False, 'shape': (2, 3), }\n",
     96, HB_ERR_UNSUPPORTED, "<U4"},
    {"fortran_order 2-D", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 24, HB_ERR_UNSUPPORTED,
     "Fortran"},
    {"truncated data", NULL, 1, 0, -1, GOOD_F4_23, 20, HB_ERR_FORMAT, "truncated"},
    {"no data at all", NULL, 1, 0, -1, GOOD_F4_23, 0, HB_ERR_FORMAT, "truncated"},
    {"extra trailing data", NULL, 1, 0, -1, GOOD_F4_23, 28, HB_ERR_FORMAT, "24 bytes"},
    {"f8 data sized as f4", NULL, 1, 0, -1,
     "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", 24, HB_ERR_FORMAT,
     "48 bytes"},
    {"numel overflows", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 4), }\n", 24,
     HB_ERR_FORMAT, "too large"},
    {"numel overflows late", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }\n", 24,
     HB_ERR_FORMAT, "too large"},
    {"bytes overflow", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }\n", 0,
     HB_ERR_FORMAT, "bytes"},
    {"dim overflows int64", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }\n", 24,
     HB_ERR_FORMAT, "header"},
    {"negative dim", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }\n", 24, HB_ERR_FORMAT,
     "header"},
    {"9 dims", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }\n", 4,
     HB_ERR_FORMAT, "header"},
    {"dims without comma", NULL, 1, 0, -1,
     "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }\n", 24, HB_ERR_FORMAT,
     "header"},
};

START_TEST(npy_hostile_header)
{
    const struct npy_case *c = &npy_cases[_i];
    char path[PATH_BUF], name[64];
    snprintf(name, sizeof name, "hostile-%d.npy", _i);
    tpath(path, name);
    unsigned char *data = calloc(1, c->data_bytes + 1);
    ck_assert_ptr_nonnull(data);
    write_npy(path, c->magic, c->major, c->minor, c->hlen, c->header, data, c->data_bytes);
    free(data);
    hb_clear_error();
    hb_tensor *t = hb_npy_load(path);
    ck_assert_msg(t == NULL, "case \"%s\": a hostile file loaded", c->what);
    ck_assert_msg(hb_last_status() == c->status, "case \"%s\": status %d, want %d (%s)", c->what,
                  hb_last_status(), c->status, hb_last_error());
    ck_assert_msg(strstr(hb_last_error(), path), "case \"%s\": error does not name the file: %s",
                  c->what, hb_last_error());
    ck_assert_msg(strstr(hb_last_error(), c->keyword), "case \"%s\": error lacks \"%s\": %s",
                  c->what, c->keyword, hb_last_error());
    unlink(path);
}
END_TEST

/* ---- safetensors -------------------------------------------------------------------------- */

START_TEST(st_load_fixture)
{
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(data_path("mlp/weights.safetensors"), &sd) == HB_OK, "%s",
                  hb_last_error());
    ck_assert_int_eq(sd.count, 4); /* __metadata__ is not a tensor */
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[2];
    } want[] = {{"0.weight", 2, {256, 20}}, {"0.bias", 1, {256}},
                {"2.weight", 2, {10, 256}}, {"2.bias", 1, {10}}};
    for (size_t i = 0; i < 4; i++) {
        const hb_named_tensor *e = sd_find(&sd, want[i].name);
        ck_assert_msg(e != NULL, "no tensor \"%s\"", want[i].name);
        ck_assert_ptr_nonnull(e->value);
        assert_shape(e->value, want[i].ndim, want[i].shape);
        ck_assert_int_eq(e->ndim, want[i].ndim);
        for (int d = 0; d < e->ndim; d++)
            ck_assert_int_eq(e->shape[d], want[i].shape[d]);
        for (int64_t k = 0; k < hb_tensor_numel(e->value); k++)
            ck_assert(isfinite(hb_tensor_cdata(e->value)[k]));
    }
    /* PyTorch's Linear init: |w| <= 1/sqrt(fan_in) */
    const hb_named_tensor *w = sd_find(&sd, "0.weight");
    for (int64_t k = 0; k < hb_tensor_numel(w->value); k++)
        ck_assert(fabsf(hb_tensor_cdata(w->value)[k]) <= 1.0f / sqrtf(20.0f) + 1e-6f);
    hb_state_dict_free(&sd);
    ck_assert_int_eq(sd.count, 0);
    ck_assert_ptr_null(sd.items);
}
END_TEST

START_TEST(st_roundtrip)
{
    hb_rng rng;
    hb_rng_seed(&rng, 7);
    const char *names[] = {"scalar", "vec", "mat.weight", "empty", "cube", "with \"quote\"",
                           "ünïcode/ß", "after-empty"};
    hb_tensor *ts[] = {hb_randn(HB_SCALAR_SHAPE, &rng), hb_randn(HB_SHAPE(3), &rng),
                       hb_randn(HB_SHAPE(4, 5), &rng), hb_zeros(HB_SHAPE(0, 4)),
                       hb_randn(HB_SHAPE(2, 1, 3), &rng), hb_randn(HB_SHAPE(1), &rng),
                       hb_randn(HB_SHAPE(1, 2, 1, 2, 1, 2, 1, 2), &rng),
                       hb_randn(HB_SHAPE(2), &rng)};
    const int n = (int)(sizeof ts / sizeof ts[0]);
    for (int i = 0; i < n; i++)
        ck_assert_tensor_ok(ts[i]);
    float *m = hb_tensor_data(ts[2]);
    m[0] = -0.0f, m[1] = NAN, m[2] = -INFINITY, m[3] = 1e-45f, m[4] = 3.4028235e38f;

    char path[PATH_BUF];
    tpath(path, "roundtrip.safetensors");
    ck_assert_msg(hb_safetensors_save(path, n, names, ts) == HB_OK, "%s", hb_last_error());

    /* the layout: an 8-byte length, a JSON object padded so the data starts 8-byte aligned,
     * then exactly the tensors' bytes */
    size_t size;
    unsigned char *buf = read_bytes(path, &size);
    ck_assert_ptr_nonnull(buf);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    ck_assert_uint_eq((8 + hlen) % 8, 0);
    size_t data = 0;
    for (int i = 0; i < n; i++)
        data += (size_t)hb_tensor_numel(ts[i]) * 4;
    ck_assert_uint_eq(size, 8 + hlen + data);
    ck_assert_int_eq(buf[8], '{');
    free(buf);

    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(sd.items[i].name, names[i]); /* file order = save order */
        ck_assert_msg(bits_equal(sd.items[i].value, ts[i]), "\"%s\" changed", names[i]);
        ck_assert_int_eq(sd.items[i].ndim, hb_tensor_ndim(ts[i]));
        ck_assert(sd.items[i].trainable);
    }
    hb_state_dict_free(&sd);
    for (int i = 0; i < n; i++)
        hb_tensor_release(ts[i]);
}
END_TEST

START_TEST(st_save_empty_and_errors)
{
    char path[PATH_BUF];
    tpath(path, "nothing.safetensors");
    ck_assert_int_eq(hb_safetensors_save(path, 0, NULL, NULL), HB_OK);
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 0);
    hb_state_dict_free(&sd);

    hb_tensor *t = hb_ones(HB_SHAPE(2));
    char dir[PATH_BUF], dst[PATH_BUF + 64];
    tdir(dir, "st-save-errors");
    snprintf(dst, sizeof dst, "%s/x.safetensors", dir);
    /* a repeated name or a NULL tensor: HB_ERR_ARG and no file */
    ck_assert_int_eq(hb_safetensors_save(dst, 2, (const char *[]){"a", "a"},
                                         (hb_tensor *[]){t, t}),
                     HB_ERR_ARG);
    ck_assert_int_eq(hb_safetensors_save(dst, 2, (const char *[]){"a", "b"},
                                         (hb_tensor *[]){t, NULL}),
                     HB_ERR_ARG);
    ck_assert_int_eq(hb_safetensors_save(NULL, 1, (const char *[]){"a"}, (hb_tensor *[]){t}),
                     HB_ERR_ARG);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 0);
    /* a missing directory */
    tpath(dst, "missing-dir/x.safetensors");
    hb_clear_error();
    ck_assert_int_eq(hb_safetensors_save(dst, 1, (const char *[]){"a"}, (hb_tensor *[]){t}),
                     HB_ERR_IO);
    assert_error_names(dst, NULL);
    ck_assert_int_eq(hb_safetensors_load(NULL, &sd), HB_ERR_ARG);
    hb_tensor_release(t);
}
END_TEST

START_TEST(st_f64_converted)
{
    const double v[3] = {0.1, -7.5, 1e10};
    char path[PATH_BUF];
    tpath(path, "f64.safetensors");
    write_st(path, "{\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}}", v,
             sizeof v);
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 1);
    ck_assert_str_eq(sd.items[0].name, "d");
    assert_shape(sd.items[0].value, 1, (const int64_t[]){3});
    for (int i = 0; i < 3; i++)
        ck_assert(hb_tensor_cdata(sd.items[0].value)[i] == (float)v[i]);
    hb_state_dict_free(&sd);

    /* F32 and F64 mixed in one file, the F64 one second */
    const unsigned char mixed[4 + 8] = {0, 0, 0x80, 0x3f /* 1.0f */, 0, 0, 0, 0, 0, 0, 0, 0xc0
                                        /* -2.0 */};
    tpath(path, "mixed.safetensors");
    write_st(path,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]}}",
             mixed, sizeof mixed);
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 2);
    ck_assert(hb_item(sd_find(&sd, "a")->value) == 1.0f);
    ck_assert(hb_item(sd_find(&sd, "b")->value) == -2.0f);
    hb_state_dict_free(&sd);
}
END_TEST

/* Half-precision weights load as float32; int64 and bool buffers keep their dtype, and save
 * as they are. */
START_TEST(st_typed_tensors)
{
    const unsigned char data[4 + 4 + 16 + 2] = {0x00, 0x3c, 0x00, 0xc0, /* F16 1, -2 */
                                                0x80, 0x3f, 0x00, 0x40, /* BF16 1, 2 */
                                                5, 0, 0, 0, 0, 0, 0, 0,
                                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                1, 0};
    char path[PATH_BUF];
    tpath(path, "typed.safetensors");
    write_st(path,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
             "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]},"
             "\"m\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[24,26]}}",
             data, sizeof data);
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    const hb_tensor *h = sd_find(&sd, "h")->value, *b = sd_find(&sd, "b")->value;
    const hb_tensor *ids = sd_find(&sd, "ids")->value, *m = sd_find(&sd, "m")->value;
    ck_assert_int_eq(hb_tensor_dtype(h), HB_F32);
    ck_assert(hb_tensor_cdata(h)[0] == 1.0f && hb_tensor_cdata(h)[1] == -2.0f);
    ck_assert(hb_tensor_cdata(b)[0] == 1.0f && hb_tensor_cdata(b)[1] == 2.0f);
    ck_assert_int_eq(hb_tensor_dtype(ids), HB_I64);
    ck_assert_int_eq(((const int64_t *)hb_tensor_raw((hb_tensor *)ids))[1], -1);
    ck_assert_int_eq(hb_tensor_dtype(m), HB_BOOL);
    tpath(path, "typed2.safetensors");
    const char *names[] = {"ids", "m"};
    hb_tensor *const ts[] = {(hb_tensor *)ids, (hb_tensor *)m};
    ck_assert_int_eq(hb_safetensors_save(path, 2, names, ts), HB_OK);
    hb_state_dict again;
    ck_assert_msg(hb_safetensors_load(path, &again) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(hb_tensor_dtype(sd_find(&again, "ids")->value), HB_I64);
    ck_assert(memcmp(hb_tensor_raw(sd_find(&again, "ids")->value), data + 8, 16) == 0);
    ck_assert(memcmp(hb_tensor_raw(sd_find(&again, "m")->value), data + 24, 2) == 0);
    hb_state_dict_free(&sd), hb_state_dict_free(&again);
}
END_TEST

START_TEST(st_metadata_ignored)
{
    const float v[2] = {3, 4};
    char path[PATH_BUF];
    tpath(path, "meta.safetensors");
    /* __metadata__ first, last, and holding things no tensor entry could */
    write_st(path,
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             v, sizeof v);
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 1);
    ck_assert_str_eq(sd.items[0].name, "w");
    ck_assert(memcmp(hb_tensor_cdata(sd.items[0].value), v, sizeof v) == 0);
    hb_state_dict_free(&sd);

    write_st(path,
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"__metadata__\":{\"note\":\"x\",\"n\":\"1\"}}",
             v, sizeof v);
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 1);
    hb_state_dict_free(&sd);

    /* the header padded with spaces, as the format allows */
    write_st(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}       ", v,
             sizeof v);
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 1);
    ck_assert(memcmp(hb_tensor_cdata(sd.items[0].value), v, sizeof v) == 0);
    hb_state_dict_free(&sd);
}
END_TEST

/* Tensors may be stored in any order in the data, and padding between them is harmless. */
START_TEST(st_layout_order_free)
{
    const float v[5] = {1, 2, 3, 4, 5};
    char path[PATH_BUF];
    tpath(path, "order.safetensors");
    write_st(path,
             "{\"late\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
             "\"early\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             v, sizeof v);
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 2);
    ck_assert(hb_tensor_cdata(sd_find(&sd, "late")->value)[0] == 4.0f);
    ck_assert(hb_tensor_cdata(sd_find(&sd, "early")->value)[1] == 2.0f);
    hb_state_dict_free(&sd);
}
END_TEST

START_TEST(st_empty_tensor_overlaps_nothing)
{
    const float v[4] = {1, 2, 3, 4};
    char path[PATH_BUF];
    tpath(path, "empty-tensor.safetensors");
    write_st(path,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
             "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]}}",
             v, sizeof v);
    hb_state_dict sd;
    hb_status st = hb_safetensors_load(path, &sd); /* on failure sd is empty: nothing leaks */
    ck_assert_msg(st == HB_OK, "a zero-size tensor was rejected: %s", hb_last_error());
    ck_assert_int_eq(sd.count, 3);
    assert_shape(sd_find(&sd, "empty")->value, 2, (const int64_t[]){0, 3});
    hb_state_dict_free(&sd);
}
END_TEST

START_TEST(st_block_save_load)
{
    static const char *const models[] = {"mlp", "chimera", "parallel", "factory", "fixed-hidden"};
    for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
        hb_block *a = example_model_new(models[m], 1);
        hb_block *b = example_model_new(models[m], 2); /* different initial values */
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        hb_tensor *x = load_fixture(models[m], "input.npy");
        hb_tensor *ya = hb_block_call(a, x); /* materializes the deferred parameters */
        ck_assert_tensor_ok(ya);
        char path[PATH_BUF], name[64];
        snprintf(name, sizeof name, "block-%s.safetensors", models[m]);
        tpath(path, name);
        ck_assert_msg(hb_block_save(a, path) == HB_OK, "%s", hb_last_error());

        /* the file holds exactly the state dict */
        hb_state_dict want, file;
        ck_assert_int_eq(hb_block_state_dict(a, &want), HB_OK);
        ck_assert_msg(hb_safetensors_load(path, &file) == HB_OK, "%s", hb_last_error());
        ck_assert_int_eq(file.count, want.count);
        for (int i = 0; i < want.count; i++) {
            const hb_named_tensor *e = sd_find(&file, want.items[i].name);
            ck_assert_msg(e != NULL, "%s: \"%s\" not saved", models[m], want.items[i].name);
            ck_assert(bits_equal(e->value, want.items[i].value));
        }
        hb_state_dict_free(&file);

        /* b has not been called: loading fills its deferred parameters from the file */
        ck_assert_msg(hb_block_load(b, path) == HB_OK, "%s: %s", models[m], hb_last_error());
        hb_state_dict got;
        ck_assert_int_eq(hb_block_state_dict(b, &got), HB_OK);
        ck_assert_int_eq(got.count, want.count);
        for (int i = 0; i < got.count; i++) {
            ck_assert_str_eq(got.items[i].name, want.items[i].name);
            ck_assert_msg(got.items[i].value && bits_equal(got.items[i].value,
                                                            want.items[i].value),
                          "%s: \"%s\" differs after load", models[m], got.items[i].name);
        }
        hb_state_dict_free(&got);
        hb_state_dict_free(&want);
        hb_tensor *yb = hb_block_call(b, x);
        ck_assert_tensor_ok(yb);
        ck_assert_msg(bits_equal(ya, yb), "%s: outputs differ after save/load", models[m]);
        hb_tensor_release(ya), hb_tensor_release(yb), hb_tensor_release(x);
        hb_block_release(a), hb_block_release(b);
        unlink(path);
    }
}
END_TEST

/* A deferred parameter cannot be saved: HB_ERR_STATE naming it, and nothing written. */
START_TEST(st_block_save_deferred)
{
    hb_block *net = mlp_new(); /* Linear(0, 256): "0.weight" is [256, ?] until called */
    char dir[PATH_BUF], path[PATH_BUF + 64];
    tdir(dir, "save-deferred");
    snprintf(path, sizeof path, "%s/mlp.safetensors", dir);
    hb_clear_error();
    ck_assert_int_eq(hb_block_save(net, path), HB_ERR_STATE);
    ck_assert_int_eq(hb_last_status(), HB_ERR_STATE);
    assert_error_names(path, "\"0.weight\"");
    assert_error_names(path, "deferred");
    ck_assert(!file_exists(path));
    ck_assert_int_eq(dir_count(dir, NULL, 0), 0); /* no stray temp file either */

    /* An earlier file at the destination survives a failed save untouched. */
    const char old[] = "previous contents";
    write_bytes(path, old, sizeof old);
    ck_assert_int_eq(hb_block_save(net, path), HB_ERR_STATE);
    size_t size;
    unsigned char *buf = read_bytes(path, &size);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(size, sizeof old);
    ck_assert(memcmp(buf, old, sizeof old) == 0);
    free(buf);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);

    /* A Linear(0, …) deep inside a tree: the message names the full state-dict name. */
    hb_block *chim = chimera_new();
    char path2[PATH_BUF + 64];
    snprintf(path2, sizeof path2, "%s/chimera.safetensors", dir);
    hb_clear_error();
    ck_assert_int_eq(hb_block_save(chim, path2), HB_ERR_STATE);
    assert_error_names(path2, "\"0.net.0.weight\"");
    ck_assert(!file_exists(path2));
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);

    /* once called, the save works and replaces the old file */
    hb_tensor *x = hb_rand(HB_SHAPE(2, 20), NULL);
    hb_tensor *y = hb_block_call(net, x);
    ck_assert_tensor_ok(y);
    ck_assert_msg(hb_block_save(net, path) == HB_OK, "%s", hb_last_error());
    hb_state_dict sd;
    ck_assert_msg(hb_safetensors_load(path, &sd) == HB_OK, "%s", hb_last_error());
    ck_assert_int_eq(sd.count, 4);
    assert_shape(sd_find(&sd, "0.weight")->value, 2, (const int64_t[]){256, 20});
    hb_state_dict_free(&sd);
    ck_assert_int_eq(dir_count(dir, NULL, 0), 1);
    hb_tensor_release(x), hb_tensor_release(y);
    hb_block_release(net), hb_block_release(chim);
}
END_TEST

START_TEST(st_block_save_errors)
{
    hb_block *net = hb_linear_new(3, 2);
    char path[PATH_BUF];
    tpath(path, "nope/deeper/lin.safetensors");
    hb_clear_error();
    ck_assert_int_eq(hb_block_save(net, path), HB_ERR_IO);
    assert_error_names(path, NULL);
    /* onto an existing directory: the rename fails and the temp file is removed */
    char dir[PATH_BUF], target[PATH_BUF + 64], first[256];
    tdir(dir, "block-save-onto-dir");
    snprintf(target, sizeof target, "%s/lin.safetensors", dir);
    ck_assert_int_eq(mkdir(target, 0700), 0);
    hb_clear_error();
    ck_assert_int_eq(hb_block_save(net, target), HB_ERR_IO);
    assert_error_names(target, NULL);
    ck_assert_int_eq(dir_count(dir, first, sizeof first), 1);
    ck_assert_str_eq(first, "lin.safetensors");
    ck_assert_int_eq(hb_block_save(NULL, path), HB_ERR_ARG);
    ck_assert_int_eq(hb_block_save(net, NULL), HB_ERR_ARG);
    ck_assert_int_eq(hb_block_load(NULL, path), HB_ERR_ARG);
    ck_assert_int_eq(hb_block_load(net, NULL), HB_ERR_ARG);
    hb_block_release(net);
}
END_TEST

/* ---- safetensors: hostile files ----------------------------------------------------------- */

START_TEST(st_short_file)
{
    char path[PATH_BUF];
    for (size_t n = 0; n < 8; n++) {
        char name[64];
        snprintf(name, sizeof name, "short-%zu.safetensors", n);
        tpath(path, name);
        write_bytes(path, "\x02\x00\x00\x00\x00\x00\x00", n);
        expect_st_error(path, HB_ERR_FORMAT, "truncated");
    }
    tpath(path, "missing.safetensors");
    expect_st_error(path, HB_ERR_IO, "cannot open");
    tdir(path, "dir.safetensors");
    expect_st_error(path, HB_ERR_IO, "not a regular file");
}
END_TEST

START_TEST(st_header_length_past_end)
{
    char path[PATH_BUF];
    tpath(path, "hlen.safetensors");
    write_st_len(path, 1000, "{}", NULL, 0);
    expect_st_error(path, HB_ERR_FORMAT, "header length");
    write_st_len(path, UINT64_MAX, "{}", NULL, 0);
    expect_st_error(path, HB_ERR_FORMAT, "header length");
    write_st_len(path, (uint64_t)1 << 63, "{}", NULL, 0);
    expect_st_error(path, HB_ERR_FORMAT, "header length");
    write_st_len(path, 3, "{}", NULL, 0); /* one past */
    expect_st_error(path, HB_ERR_FORMAT, "header length");
    /* the header length leaves out the JSON's closing brace */
    write_st_len(path, 1, "{}", NULL, 0);
    expect_st_error(path, HB_ERR_FORMAT, "JSON");
}
END_TEST

#define E32(shape, b, e) "{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

static const struct st_case {
    const char *what;
    const char *json;
    size_t data_bytes;
    hb_status status;
    const char *keyword;
} st_cases[] = {
    {"not JSON", "this is not json", 0, HB_ERR_FORMAT, "JSON"},
    {"empty header", "", 0, HB_ERR_FORMAT, "JSON"},
    {"binary header", "\x01\x02\x03\xff", 0, HB_ERR_FORMAT, "JSON"},
    {"unterminated object", "{\"w\":" E32("[2]", "0", "8"), 8, HB_ERR_FORMAT, "JSON"},
    {"array", "[1, 2, 3]", 0, HB_ERR_FORMAT, "JSON object"},
    {"string", "\"w\"", 0, HB_ERR_FORMAT, "JSON object"},
    {"number", "42", 0, HB_ERR_FORMAT, "JSON object"},
    {"null", "null", 0, HB_ERR_FORMAT, "JSON object"},
    {"entry not an object", "{\"w\": 5}", 0, HB_ERR_FORMAT, "\"w\""},
    {"entry an array", "{\"w\": [\"F32\", [2], [0, 8]]}", 8, HB_ERR_FORMAT, "\"w\""},
    {"missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, HB_ERR_FORMAT,
     "dtype"},
    {"missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, HB_ERR_FORMAT,
     "shape"},
    {"missing data_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, HB_ERR_FORMAT,
     "data_offsets"},
    {"data_offsets of 3", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}",
     8, HB_ERR_FORMAT, "data_offsets"},
    {"data_offsets not a list", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":8}}",
     8, HB_ERR_FORMAT, "data_offsets"},
    {"shape not a list", "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
     HB_ERR_FORMAT, "shape"},
    {"dtype not a string", "{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     HB_ERR_FORMAT, "dtype"},
    {"dtype C64", "{\"w\":{\"dtype\":\"C64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16,
     HB_ERR_UNSUPPORTED, "C64"},
    {"dtype I64, bytes of F32", "{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, HB_ERR_FORMAT, "needs 16 bytes"},
    {"dtype F8_E4M3", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}",
     2, HB_ERR_UNSUPPORTED, "F8_E4M3"},
    {"dtype f32 lower case", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, HB_ERR_UNSUPPORTED, "f32"},
    {"negative dim", "{\"w\":" E32("[-2]", "0", "8") "}", 8, HB_ERR_FORMAT, "shape entry 0"},
    {"negative second dim", "{\"w\":" E32("[2,-1]", "0", "8") "}", 8, HB_ERR_FORMAT,
     "shape entry 1"},
    {"fractional dim", "{\"w\":" E32("[2.5]", "0", "8") "}", 8, HB_ERR_FORMAT, "shape entry 0"},
    {"huge dim", "{\"w\":" E32("[1e30]", "0", "8") "}", 8, HB_ERR_FORMAT, "shape entry 0"},
    {"dim a string", "{\"w\":" E32("[\"2\"]", "0", "8") "}", 8, HB_ERR_FORMAT, "shape entry 0"},
    {"dim null", "{\"w\":" E32("[null]", "0", "8") "}", 8, HB_ERR_FORMAT, "shape entry 0"},
    {"shape product overflows",
     "{\"w\":" E32("[4294967296,4294967296,4294967296]", "0", "8") "}", 8, HB_ERR_FORMAT,
     "too large"},
    {"byte size overflows", "{\"w\":" E32("[2147483648,2147483648]", "0", "8") "}", 8,
     HB_ERR_FORMAT, "data_offsets"},
    {"9 dims", "{\"w\":" E32("[1,1,1,1,1,1,1,1,1]", "0", "4") "}", 4, HB_ERR_FORMAT, "9 dims"},
    {"offsets past the end", "{\"w\":" E32("[4]", "0", "16") "}", 12, HB_ERR_FORMAT,
     "truncated"},
    {"offsets far past the end", "{\"w\":" E32("[2]", "9007199254740000", "9007199254740008") "}",
     8, HB_ERR_FORMAT, "past"},
    {"begin > end", "{\"w\":" E32("[2]", "8", "0") "}", 8, HB_ERR_FORMAT, "data_offsets"},
    {"negative offset", "{\"w\":" E32("[2]", "-8", "0") "}", 8, HB_ERR_FORMAT, "data_offsets"},
    {"fractional offset", "{\"w\":" E32("[2]", "0", "8.5") "}", 9, HB_ERR_FORMAT,
     "data_offsets"},
    {"offset a string", "{\"w\":" E32("[2]", "\"0\"", "8") "}", 8, HB_ERR_FORMAT,
     "data_offsets"},
    {"size mismatch (short)", "{\"w\":" E32("[3]", "0", "8") "}", 8, HB_ERR_FORMAT,
     "needs 12 bytes"},
    {"size mismatch (long)", "{\"w\":" E32("[2, 2]", "0", "20") "}", 20, HB_ERR_FORMAT,
     "needs 16 bytes"},
    {"F64 size mismatch", "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     HB_ERR_FORMAT, "needs 16 bytes"},
    {"duplicate names",
     "{\"w\":" E32("[2]", "0", "8") ",\"w\":" E32("[2]", "8", "16") "}", 16, HB_ERR_FORMAT,
     "twice"},
    {"overlapping tensors",
     "{\"a\":" E32("[2]", "0", "8") ",\"b\":" E32("[2]", "4", "12") "}", 12, HB_ERR_FORMAT,
     "overlap"},
    {"same bytes twice",
     "{\"a\":" E32("[2]", "0", "8") ",\"b\":" E32("[2]", "0", "8") "}", 8, HB_ERR_FORMAT,
     "overlap"},
    {"tensor inside another",
     "{\"big\":" E32("[4]", "0", "16") ",\"small\":" E32("[1]", "4", "8") "}", 16, HB_ERR_FORMAT,
     "overlap"},
        {"junk after the JSON", "{\"w\":" E32("[2]", "0", "8") "} trailing junk", 8, HB_ERR_FORMAT,
     "JSON"},
};

START_TEST(st_hostile_header)
{
    const struct st_case *c = &st_cases[_i];
    char path[PATH_BUF], name[64];
    snprintf(name, sizeof name, "hostile-%d.safetensors", _i);
    tpath(path, name);
    write_st(path, c->json, NULL, c->data_bytes);
    hb_clear_error();
    hb_state_dict sd = {.count = 77};
    hb_status st = hb_safetensors_load(path, &sd);
    if (st == HB_OK) {
        hb_state_dict_free(&sd);
        unlink(path);
    }
    ck_assert_msg(st != HB_OK, "case \"%s\": a hostile file loaded", c->what);
    ck_assert_msg(st == c->status && hb_last_status() == c->status,
                  "case \"%s\": status %d, want %d (%s)", c->what, st, c->status,
                  hb_last_error());
    ck_assert_msg(strstr(hb_last_error(), path), "case \"%s\": error does not name the file: %s",
                  c->what, hb_last_error());
    ck_assert_msg(strstr(hb_last_error(), c->keyword), "case \"%s\": error lacks \"%s\": %s",
                  c->what, c->keyword, hb_last_error());
    ck_assert_int_eq(sd.count, 0);
    ck_assert_ptr_null(sd.items);

    /* hb_block_load passes the same error through and changes nothing */
    hb_block *lin = hb_linear_new(2, 2);
    snapshot before = take_snapshot(lin);
    hb_clear_error();
    ck_assert_int_eq(hb_block_load(lin, path), c->status);
    ck_assert_msg(strstr(hb_last_error(), path), "case \"%s\": %s", c->what, hb_last_error());
    assert_unchanged(lin, &before);
    snapshot_free(&before);
    hb_block_release(lin);
    unlink(path);
}
END_TEST

/* ---- hb_block_load ------------------------------------------------------------------------ */

START_TEST(load_mlp_fixture)
{
    hb_block *net = mlp_new();
    /* deferred before the load: "0.weight" is [256, ?] */
    hb_block *first = hb_block_child(net, "0");
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(hb_block_param(first, "weight"));
    ck_assert_msg(hb_block_load(net, data_path("mlp/weights.safetensors")) == HB_OK, "%s",
                  hb_last_error());
    /* the load filled in the deferred shape */
    hb_tensor *w = hb_block_param(first, "weight");
    ck_assert_ptr_nonnull(w);
    assert_shape(w, 2, (const int64_t[]){256, 20});
    hb_state_dict sd;
    ck_assert_int_eq(hb_block_state_dict(net, &sd), HB_OK);
    for (int i = 0; i < sd.count; i++)
        ck_assert_msg(sd.items[i].value && sd.items[i].shape[sd.items[i].ndim - 1] != 0,
                      "\"%s\" still deferred", sd.items[i].name);
    hb_state_dict_free(&sd);

    /* and the values are the file's, bit for bit */
    hb_state_dict file;
    ck_assert_int_eq(hb_safetensors_load(data_path("mlp/weights.safetensors"), &file), HB_OK);
    ck_assert(bits_equal(w, sd_find(&file, "0.weight")->value));
    ck_assert(bits_equal(hb_block_param(hb_block_child(net, "2"), "bias"),
                         sd_find(&file, "2.bias")->value));
    hb_state_dict_free(&file);

    hb_tensor *x = load_fixture("mlp", "input.npy");
    hb_tensor *want = load_fixture("mlp", "output.npy");
    hb_tensor *y = hb_block_call(net, x);
    ck_assert_tensor_ok(y);
    double err = rel_error(y, want);
    ck_assert_msg(err <= 1e-4, "mlp output: rel error %g", err);
    hb_tensor_release(x), hb_tensor_release(want), hb_tensor_release(y);
    hb_block_release(net);
}
END_TEST

static const char *const fixture_models[] = {"mlp",      "mlp-class", "my-sequential",
                                             "fixed-hidden", "nest-mlp", "chimera",
                                             "parallel", "factory"};

/* Every fixture model loads PyTorch's weights by name and reproduces its output, whether the
 * model was called before (parameters initialized) or not (deferred). */
START_TEST(load_fixture_models)
{
    const char *model = fixture_models[_i];
    for (int called = 0; called < 2; called++) {
        hb_block *net = example_model_new(model, 3);
        ck_assert_ptr_nonnull(net);
        hb_tensor *x = load_fixture(model, "input.npy");
        if (called) {
            hb_tensor *warm = hb_block_call(net, x);
            ck_assert_tensor_ok(warm);
            hb_tensor_release(warm);
        }
        char rel[256];
        snprintf(rel, sizeof rel, "%s/weights.safetensors", model);
        ck_assert_msg(hb_block_load(net, data_path(rel)) == HB_OK, "%s: %s", model,
                      hb_last_error());
        hb_tensor *want = load_fixture(model, "output.npy");
        hb_tensor *y = hb_block_call(net, x);
        ck_assert_msg(y != NULL, "%s: %s", model, hb_last_error());
        double err = rel_error(y, want);
        ck_assert_msg(err <= 1e-4, "%s (called before: %d): rel error %g", model, called, err);
        hb_tensor_release(x), hb_tensor_release(want), hb_tensor_release(y);
        hb_block_release(net);
    }
}
END_TEST

/* Bad files for mlp: each fails with a message naming the culprit, and the block keeps its
 * state, both when it has values and when it is still deferred. */
START_TEST(load_mismatches)
{
    hb_state_dict good;
    ck_assert_int_eq(hb_safetensors_load(data_path("mlp/weights.safetensors"), &good), HB_OK);
    char missing[PATH_BUF], extra[PATH_BUF], shape[PATH_BUF], shape2[PATH_BUF], rank[PATH_BUF];
    tpath(missing, "mlp-missing.safetensors");
    tpath(extra, "mlp-extra.safetensors");
    tpath(shape, "mlp-shape.safetensors");
    tpath(shape2, "mlp-shape-deferred-dim.safetensors");
    tpath(rank, "mlp-rank.safetensors");
    save_dict(missing, &good, "2.bias", NULL, NULL);
    hb_tensor *junk = hb_ones(HB_SHAPE(3));
    save_dict(extra, &good, NULL, "3.weight", junk);
    hb_tensor *w128 = hb_zeros(HB_SHAPE(10, 128));
    save_dict(shape, &good, "2.weight", "2.weight", w128);
    hb_tensor *w_bad_out = hb_zeros(HB_SHAPE(128, 20)); /* the known dim of [256, ?] is wrong */
    save_dict(shape2, &good, "0.weight", "0.weight", w_bad_out);
    hb_tensor *b2d = hb_zeros(HB_SHAPE(10, 1));
    save_dict(rank, &good, "2.bias", "2.bias", b2d);

    for (int called = 0; called < 2; called++) {
        hb_block *net = mlp_new();
        if (called) {
            hb_tensor *x = hb_rand(HB_SHAPE(2, 20), NULL);
            hb_tensor *y = hb_block_call(net, x);
            ck_assert_tensor_ok(y);
            hb_tensor_release(x), hb_tensor_release(y);
        }
        snapshot before = take_snapshot(net);

        hb_clear_error();
        ck_assert_int_eq(hb_block_load(net, missing), HB_ERR_NAME);
        assert_error_names(missing, "\"2.bias\"");
        assert_error_names(missing, "missing");
        assert_unchanged(net, &before);

        hb_clear_error();
        ck_assert_int_eq(hb_block_load(net, extra), HB_ERR_NAME);
        assert_error_names(extra, "\"3.weight\"");
        assert_error_names(extra, "unknown");
        assert_unchanged(net, &before);

        hb_clear_error();
        ck_assert_int_eq(hb_block_load(net, shape), HB_ERR_SHAPE);
        assert_error_names(shape, "\"2.weight\"");
        assert_error_names(shape, "[10, 128]");
        assert_error_names(shape, "[10, 256]");
        assert_unchanged(net, &before);

        hb_clear_error();
        ck_assert_int_eq(hb_block_load(net, shape2), HB_ERR_SHAPE);
        assert_error_names(shape2, "\"0.weight\"");
        assert_error_names(shape2, "[128, 20]");
        assert_error_names(shape2, called ? "[256, 20]" : "[256, ?]");
        assert_unchanged(net, &before);

        hb_clear_error();
        ck_assert_int_eq(hb_block_load(net, rank), HB_ERR_SHAPE);
        assert_error_names(rank, "\"2.bias\"");
        assert_error_names(rank, "[10, 1]");
        assert_error_names(rank, "[10]");
        assert_unchanged(net, &before);

        /* the good file still loads afterwards */
        ck_assert_msg(hb_block_load(net, data_path("mlp/weights.safetensors")) == HB_OK, "%s",
                      hb_last_error());
        snapshot_free(&before);
        hb_block_release(net);
    }
    hb_tensor_release(junk), hb_tensor_release(w128), hb_tensor_release(w_bad_out);
    hb_tensor_release(b2d);
    hb_state_dict_free(&good);
}
END_TEST

/* Weights of another model: the first difference is named. */
START_TEST(load_wrong_model)
{
    hb_block *net = mlp_class_new(); /* hidden.*, out.* */
    snapshot before = take_snapshot(net);
    char p[PATH_BUF];
    snprintf(p, sizeof p, "%s", data_path("mlp/weights.safetensors"));
    hb_clear_error();
    ck_assert_int_eq(hb_block_load(net, p), HB_ERR_NAME);
    assert_error_names(p, "\"hidden.");
    assert_error_names(p, "missing");
    assert_unchanged(net, &before);
    snapshot_free(&before);
    hb_block_release(net);
}
END_TEST

/* F64 weights are converted on loading into a block. */
START_TEST(load_f64_weights)
{
    const double w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {0.5, -0.5};
    unsigned char data[64];
    memcpy(data, b, sizeof b);
    memcpy(data + sizeof b, w, sizeof w);
    char path[PATH_BUF];
    tpath(path, "lin-f64.safetensors");
    write_st(path,
             "{\"bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
             "\"weight\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[16,64]}}",
             data, sizeof data);
    hb_block *lin = hb_linear_new(0, 2);
    ck_assert_msg(hb_block_load(lin, path) == HB_OK, "%s", hb_last_error());
    hb_tensor *x = hb_tensor_from((const float[]){1, 1, 1}, HB_SHAPE(1, 3));
    hb_tensor *y = hb_block_call(lin, x);
    ck_assert_tensor_ok(y);
    ck_assert(hb_tensor_cdata(y)[0] == 6.5f);
    ck_assert(hb_tensor_cdata(y)[1] == 14.5f);
    hb_tensor_release(x), hb_tensor_release(y);
    hb_block_release(lin);
}
END_TEST

/* A deferred model loaded from a file takes the file's input width, then checks calls
 * against it. */
START_TEST(load_deferred_then_call)
{
    hb_block *net = mlp_new();
    ck_assert_int_eq(hb_block_load(net, data_path("mlp/weights.safetensors")), HB_OK);
    hb_tensor *x = hb_rand(HB_SHAPE(2, 7), NULL); /* the file says 20 inputs */
    hb_clear_error();
    hb_tensor *y = hb_block_call(net, x);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(hb_last_status(), HB_ERR_SHAPE);
    hb_tensor_release(x);
    /* saving now works: nothing is deferred any more */
    char path[PATH_BUF];
    tpath(path, "loaded-deferred.safetensors");
    ck_assert_msg(hb_block_save(net, path) == HB_OK, "%s", hb_last_error());
    hb_block_release(net);
}
END_TEST

static hb_tensor *shared_forward(hb_block *self, hb_tensor *x)
{
    return hb_block_call(hb_block_child(self, "b"), hb_block_call(hb_block_child(self, "a"), x));
}

START_TEST(load_shared_deferred_is_atomic)
{
    hb_block *lin = hb_linear_new(0, 4);
    hb_block *net = hb_block_new("Shared", shared_forward);
    ck_assert_int_eq(hb_block_add_child(net, "a", lin), HB_OK);
    ck_assert_int_eq(hb_block_add_child(net, "b", hb_block_retain(lin)), HB_OK);
    hb_tensor *wa = hb_ones(HB_SHAPE(4, 3)), *wb = hb_ones(HB_SHAPE(4, 5));
    hb_tensor *bias = hb_zeros(HB_SHAPE(4));
    char path[PATH_BUF];
    tpath(path, "shared-conflict.safetensors");
    ck_assert_int_eq(hb_safetensors_save(path, 4,
                                         (const char *[]){"a.weight", "a.bias", "b.weight",
                                                          "b.bias"},
                                         (hb_tensor *[]){wa, bias, wb, bias}),
                     HB_OK);
    hb_tensor_release(wa), hb_tensor_release(wb), hb_tensor_release(bias);
    hb_clear_error();
    hb_status st = hb_block_load(net, path);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", hb_last_error());
    bool names_file = strstr(msg, path) != NULL;
    bool unchanged = hb_block_param(lin, "weight") == NULL; /* still deferred */
    hb_block_release(net); /* released first: the checks below fail today */
    ck_assert_int_ne(st, HB_OK);
    ck_assert_msg(unchanged && names_file,
                  "failed load changed the block (weight now %s) or lost the path: \"%s\"",
                  unchanged ? "deferred" : "[4, 3]", msg);
}
END_TEST

/* A shared block whose file entries agree loads fine. */
START_TEST(load_shared_consistent)
{
    hb_block *lin = hb_linear_new(0, 3);
    hb_block *net = hb_block_new("Shared", shared_forward);
    hb_block_add_child(net, "a", lin);
    hb_block_add_child(net, "b", hb_block_retain(lin));
    hb_tensor *w = hb_ones(HB_SHAPE(3, 3)), *b = hb_full(HB_SHAPE(3), 0.5f);
    char path[PATH_BUF];
    tpath(path, "shared-ok.safetensors");
    ck_assert_int_eq(hb_safetensors_save(path, 4,
                                         (const char *[]){"a.weight", "a.bias", "b.weight",
                                                          "b.bias"},
                                         (hb_tensor *[]){w, b, w, b}),
                     HB_OK);
    ck_assert_msg(hb_block_load(net, path) == HB_OK, "%s", hb_last_error());
    ck_assert(bits_equal(hb_block_param(lin, "weight"), w));
    hb_tensor *x = hb_ones(HB_SHAPE(1, 3));
    hb_tensor *y = hb_block_call(net, x); /* (1+1+1+.5)*3 + .5 = 11 */
    ck_assert_tensor_ok(y);
    ck_assert(hb_tensor_cdata(y)[0] == 11.0f);
    hb_tensor_release(x), hb_tensor_release(y), hb_tensor_release(w), hb_tensor_release(b);
    hb_block_release(net);
}
END_TEST

/* ---- main --------------------------------------------------------------------------------- */

/* Removes path and, if it is a directory, everything under it. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        for (struct dirent *e; d && (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[PATH_BUF];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

int main(void)
{
    /* Make the temp directory in the parent, so every forked test shares it and it can be
     * removed at the end. */
    char dir[PATH_BUF];
    tpath(dir, "");
    size_t len = strlen(dir);
    if (len && dir[len - 1] == '/')
        dir[len - 1] = '\0';

    Suite *s = suite_create("io");

    TCase *tc = tcase_create("npy");
    tcase_add_test(tc, npy_fixture_shapes);
    tcase_add_loop_test(tc, npy_roundtrip, 0, (int)ARRAY_LEN(roundtrip_shapes));
    tcase_add_test(tc, npy_f8_converted);
    tcase_add_test(tc, npy_typed_roundtrip);
    tcase_add_test(tc, npy_other_valid_headers);
    tcase_add_test(tc, npy_save_errors);
    tcase_add_test(tc, npy_save_overwrites);
    tcase_add_test(tc, npy_save_long_file_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("npy_hostile");
    tcase_add_test(tc, npy_missing_file);
    tcase_add_test(tc, npy_directory);
    tcase_add_test(tc, npy_empty_file);
    tcase_add_loop_test(tc, npy_hostile_header, 0, (int)ARRAY_LEN(npy_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("safetensors");
    tcase_add_test(tc, st_load_fixture);
    tcase_add_test(tc, st_roundtrip);
    tcase_add_test(tc, st_save_empty_and_errors);
    tcase_add_test(tc, st_f64_converted);
    tcase_add_test(tc, st_typed_tensors);
    tcase_add_test(tc, st_metadata_ignored);
    tcase_add_test(tc, st_layout_order_free);
    tcase_add_test(tc, st_empty_tensor_overlaps_nothing);
    tcase_add_test(tc, st_block_save_load);
    tcase_add_test(tc, st_block_save_deferred);
    tcase_add_test(tc, st_block_save_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("safetensors_hostile");
    tcase_add_test(tc, st_short_file);
    tcase_add_test(tc, st_header_length_past_end);
    tcase_add_loop_test(tc, st_hostile_header, 0, (int)ARRAY_LEN(st_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("block_load");
    tcase_add_test(tc, load_mlp_fixture);
    tcase_add_loop_test(tc, load_fixture_models, 0, (int)ARRAY_LEN(fixture_models));
    tcase_add_test(tc, load_mismatches);
    tcase_add_test(tc, load_wrong_model);
    tcase_add_test(tc, load_f64_weights);
    tcase_add_test(tc, load_deferred_then_call);
    tcase_add_test(tc, load_shared_deferred_is_atomic);
    tcase_add_test(tc, load_shared_consistent);
    suite_add_tcase(s, tc);

    int rc = run_suite(s);
    remove_tree(dir);
    return rc;
}
