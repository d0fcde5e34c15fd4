/* Helpers every suite shares: where the test data is, and comparisons with a reference. */
#ifndef HB_TESTS_HARNESS_H
#define HB_TESTS_HARNESS_H

#include <check.h>
#include <hybrid.h>

/* Path of a file under tests/data ($HB_TEST_DATA); valid for the next 7 calls. */
const char *data_path(const char *rel);
/* A fresh path in a per-process temp directory. */
const char *temp_path(const char *name);

/* max |a-b| / max(|b|, floor) over the elements; shapes must match (else +inf). */
double rel_error(const hb_tensor *a, const hb_tensor *b);
double rel_error_buf(const float *a, const double *ref, int64_t n);

/* Runs the suite made by make and returns the process exit status. */
int run_suite(Suite *s);

#define ck_assert_tensor_ok(t) ck_assert_msg((t) != NULL, "NULL tensor: %s", hb_last_error())

#endif
