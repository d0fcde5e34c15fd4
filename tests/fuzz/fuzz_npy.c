/* libFuzzer harness: the .npy reader on arbitrary bytes — a tensor of the shape the header
 * says, or an error with a message; never a crash, a leak or a read past the buffer. */
#include "../../src/frontend/frontend.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_clear_error(); /* each input's failure must bring its own message */
    hb_tensor *t = hb_io_npy_parse("fuzz.npy", data, size);
    if (t) {
        volatile unsigned char sink = 0; /* every byte readable, of any dtype */
        const unsigned char *raw = hb_tensor_raw(t);
        for (int64_t k = 0; k < hb_tensor_numel(t) * (int64_t)hb_dtype_size(hb_tensor_dtype(t)); k++)
            sink += raw[k];
        (void)sink;
        hb_tensor_release(t);
    } else if (hb_last_error()[0] == '\0') {
        abort();
    }
    return 0;
}
