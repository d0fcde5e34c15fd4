/* The attribute kinds' fields, expanded from attrs.def: what print.c, parse.c and
 * hb_attrs_equal walk. */
#include "op.h"
#include "program.h"

#include <stddef.h>
#include <string.h>

#define MEMBER(m) offsetof(hb_attrs, m)
#define FIELD(type, key, m, ...) {HB_FIELD_##type, key, MEMBER(m), 0, 0, __VA_ARGS__}

#define NO_FIELDS {HB_FIELD_END, NULL, 0, 0, 0, NULL, 0}
#define SCALAR(key, m) FIELD(SCALAR, key, m, NULL, 0)
#define INT(key, m, what) FIELD(INT, key, m, what, 0)
#define COUNT(key, m, what) FIELD(COUNT, key, m, what, 0)
#define FLAG(word, m) {HB_FIELD_FLAG, word, MEMBER(m), 0, sizeof(((hb_attrs *)0)->m), NULL, 0}
#define DIMS(key, m, lo) FIELD(DIMS, key, m, NULL, lo)
#define PAIR(key, m0, m1, what) {HB_FIELD_PAIR, key, MEMBER(m0), MEMBER(m1), 0, what, 0}
#define EXPECT(key, m) FIELD(EXPECT, key, m, NULL, 0)
#define REDUCTION(key, m) FIELD(REDUCTION, key, m, NULL, 0)
#define EXTENT FIELD(EXTENT, "axis", axis, "an axis", 0)
#define KEEPDIM {HB_FIELD_KEEPDIM, "keepdim", MEMBER(keepdim), 0, sizeof(bool), NULL, 0}
#define PROGRAM FIELD(PROGRAM, "prog", prog, NULL, 0)
#define BODY FIELD(BODY, "body", body, NULL, 0)
#define REASON {HB_FIELD_REASON, "reason", 0, 0, 0, NULL, 0}
#define DTYPE(key, m) FIELD(DTYPE, key, m, NULL, 0)

/* A convolution's window; a pool's, whose kernel size is its own (a convolution's is its
 * weight's) and which may round up or leave the padding out of an average. */
#define CONV_WINDOW                                                                               \
    PAIR("stride", win.stride[0], win.stride[1], "a window size"),                               \
        PAIR("pad", win.pad[0], win.pad[1], "a window size"),                                    \
        PAIR("dilation", win.dilation[0], win.dilation[1], "a window size"),                     \
        INT("groups", win.groups, "a group count")
#define POOL_WINDOW                                                                               \
    PAIR("kernel", win.kernel[0], win.kernel[1], "a window size"),                               \
        PAIR("stride", win.stride[0], win.stride[1], "a window size"),                           \
        PAIR("pad", win.pad[0], win.pad[1], "a window size"), FLAG("ceil", win.ceil_mode),       \
        FLAG("exclude_pad", win.exclude_pad)

const hb_attr_kind_info hb_attr_kinds[HB_ATTRS_COUNT] = {
#define HB_ATTRS(NAME, ...) [HB_ATTRS_##NAME] = {#NAME, {__VA_ARGS__}},
#include "attrs.def"
#undef HB_ATTRS
};

bool hb_attr_flag(const hb_attr_field *f, const hb_attrs *a)
{
    return f->size == sizeof(bool) ? *HB_FIELD_AT(const bool, a, f->at)
                                   : *HB_FIELD_AT(const int, a, f->at) != 0;
}

/* Whether field fd is the same in a and b. */
static bool field_equal(const hb_attr_field *fd, const hb_attrs *a, const hb_attrs *b)
{
#define SAME(type, off) (*HB_FIELD_AT(const type, a, off) == *HB_FIELD_AT(const type, b, off))
    switch (fd->type) {
    case HB_FIELD_SCALAR: /* bitwise: 0.0 and -0.0 differ, two NaNs of one pattern agree */
        return memcmp((const char *)a + fd->at, (const char *)b + fd->at, sizeof(float)) == 0;
    case HB_FIELD_INT:
        return SAME(int, fd->at);
    case HB_FIELD_PAIR:
        return SAME(int, fd->at) && SAME(int, fd->at2);
    case HB_FIELD_COUNT:
        return SAME(int64_t, fd->at);
    case HB_FIELD_FLAG:
        return hb_attr_flag(fd, a) == hb_attr_flag(fd, b);
    case HB_FIELD_DIMS:
        return hb_shape_equal(HB_FIELD_AT(const hb_shape, a, fd->at),
                              HB_FIELD_AT(const hb_shape, b, fd->at));
    case HB_FIELD_REDUCTION:
        return SAME(hb_op, fd->at);
    case HB_FIELD_DTYPE:
        return SAME(hb_dtype, fd->at);
#undef SAME
    case HB_FIELD_EXTENT:
        return a->all == b->all && (a->all || a->axis == b->axis);
    case HB_FIELD_KEEPDIM: /* after the extent: a->all == b->all */
        return a->all || a->keepdim == b->keepdim;
    case HB_FIELD_PROGRAM:
        return hb_program_equal(a->prog, b->prog);
    case HB_FIELD_EXPECT:
    case HB_FIELD_BODY:
    case HB_FIELD_REASON:
        return false; /* guards decide, islands and loops run code: never merged */
    case HB_FIELD_END:
        break;
    }
    return true;
}

bool hb_attrs_equal(hb_op op, const hb_attrs *a, const hb_attrs *b)
{
    for (const hb_attr_field *fd = hb_attr_kinds[hb_op_table[op].attrs].fields;
         fd->type != HB_FIELD_END; fd++)
        if (!field_equal(fd, a, b))
            return false;
    return true;
}
