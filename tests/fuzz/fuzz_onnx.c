/* libFuzzer harness: the ONNX reader on arbitrary bytes — a block, or an error with a message;
 * never a crash, a leak or a read past the buffer. A block that loads is called once on an
 * input of the shape its file declares (symbolic dims 1; large ones skipped), so the checks
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
    int64_t shape[HB_MAX_DIMS], numel = 1;
    int nd = hb_onnx_input_shape(b, shape);
    for (int i = 0; i < nd; i++) {
        shape[i] = shape[i] > 0 ? shape[i] : 1;
        numel *= shape[i] < (1 << 16) ? shape[i] : (1 << 16);
    }
    if (nd >= 0 && numel <= (1 << 14)) {
        hb_tensor *x = hb_full(nd, shape, 0.5f);
        hb_clear_error();
        hb_tensor *y = hb_block_call(b, x);
        if (!y && hb_last_error()[0] == '\0')
            abort();
        hb_tensor_release(y), hb_tensor_release(x);
    }
    hb_block_release(b);
    return 0;
}
