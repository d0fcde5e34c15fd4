/* libFuzzer harness: the ONNX reader on arbitrary bytes — a block, or an error with a message;
 * never a crash, a leak or a read past the buffer. A block that loads is called once on inputs
 * of the dtypes and shapes its file declares (symbolic dims 1; large ones skipped), so the checks
 * made when nodes run are fuzzed too. A file may legally ask for gigabytes (a Pad, a Concat
 * of many copies): allocations over 64 MiB fail here, as they would on a smaller machine,
 * which fuzzes the out-of-memory paths instead of the fuzzer's memory limit. */
#include "../../src/common.h"
#include "../../src/frontend/frontend.h"

#include <stdint.h>
#include <stdlib.h>

static bool modest(size_t n) { return n <= ((size_t)64 << 20); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_alloc_hook = modest;
    hb_clear_error(); /* each input's failure must bring its own message */
    hb_block *b = hb_onnx_load_buffer(data, size, "fuzz.onnx");
    if (!b) {
        if (hb_last_error()[0] == '\0')
            abort();
        return 0;
    }
    /* every graph input of its declared dtype: 0.5 for floats, 1 for ids (a valid index of any
     * axis longer than 1; past the end of others, which must be refused), true for masks */
    const char *names[16];
    int k = hb_onnx_inputs(b, names, 16);
    hb_tensor *x = NULL;
    bool ok = k >= 1 && k <= 16;
    for (int n = 0; ok && n < k; n++) {
        int64_t shape[HB_MAX_DIMS], numel = 1;
        hb_dtype dtype;
        int nd = hb_onnx_input_info(b, n, &dtype, shape);
        for (int i = 0; i < nd; i++) {
            shape[i] = shape[i] > 0 ? shape[i] : 1;
            numel *= shape[i] < (1 << 16) ? shape[i] : (1 << 16);
        }
        ok = nd >= 0 && numel <= (1 << 14);
        hb_tensor *t = ok ? hb_full(nd, shape, dtype == HB_F32 ? 0.5f : 1.0f) : NULL;
        if (t && dtype != HB_F32) {
            hb_tensor *f = t;
            t = hb_cast(f, dtype);
            hb_tensor_release(f);
        }
        ok = t != NULL;
        if (n == 0) {
            x = t;
        } else if (t) {
            ok = hb_onnx_bind(b, names[n], t) == HB_OK;
            hb_tensor_release(t);
        }
    }
    if (ok) {
        hb_clear_error();
        hb_tensor *y = hb_block_call(b, x);
        if (!y && hb_last_error()[0] == '\0')
            abort();
        hb_tensor_release(y);
    }
    hb_tensor_release(x);
    hb_block_release(b);
    return 0;
}
