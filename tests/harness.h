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

/* The seed models with fixtures, and helpers over them: the model from seed 0 with the
 * fixture's weights, a fixture file, the fixture input (a seeded normal [2, 20] for models
 * without one), a call that must succeed. */
extern const char *const test_fixture_models[];
extern const int test_fixture_model_count;
bool test_has_fixture(const char *name);
hb_block *test_model(const char *name);
hb_tensor *test_fixture(const char *name, const char *file);
hb_tensor *test_model_input(const char *name);
hb_tensor *test_call_ok(hb_block *net, hb_tensor *x);
bool test_same_bits(const hb_tensor *a, const hb_tensor *b);
/* A compiled result against the eager one: the same bits with the interpreter; with the LLVM
 * JIT on (built, and HB_JIT not 0), within 1e-6 relative — its GEMMs add in another order. */
bool test_same_result(const hb_tensor *compiled, const hb_tensor *eager);
char *test_slurp(const char *path); /* a whole file as a string (free()), or NULL */
int test_count_substr(const char *s, const char *sub);
/* hb_block_explain's text (or JSON) as a string (free()); fails the test if explain fails. */
char *test_explain(hb_block *b, bool json);

#define ck_assert_tensor_ok(t) ck_assert_msg((t) != NULL, "NULL tensor: %s", hb_last_error())

#endif
