/* Shared helpers of the Check suites. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *data_path(const char *rel)
{
    /* A ring of buffers, so one call can pass several paths. */
    static _Thread_local char bufs[8][1024];
    static _Thread_local int next;
    char *buf = bufs[next++ % 8];
    const char *root = getenv("HB_TEST_DATA");
    snprintf(buf, sizeof bufs[0], "%s/%s", root ? root : "tests/data", rel);
    return buf;
}

const char *temp_path(const char *name)
{
    static char dir[256];
    static _Thread_local char buf[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/hybrid-test-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

double rel_error(const hb_tensor *a, const hb_tensor *b)
{
    if (!a || !b || !hb_tensor_same_shape(a, b))
        return INFINITY;
    const float *x = hb_tensor_cdata(a), *y = hb_tensor_cdata(b);
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < hb_tensor_numel(a); i++)
        scale = fmax(scale, fabs((double)y[i]));
    for (int64_t i = 0; i < hb_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (isnan(x[i]) != isnan(y[i]))
            return INFINITY;
        worst = fmax(worst, d / fmax(scale, 1e-6));
    }
    return worst;
}

double rel_error_buf(const float *a, const double *ref, int64_t n)
{
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(ref[i]))
            return INFINITY;
        if (!isnan(ref[i]) && !(isinf(ref[i]) && a[i] == ref[i]))
            worst = fmax(worst, fabs((double)a[i] - ref[i]) / fmax(scale, 1e-6));
    }
    return worst;
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
