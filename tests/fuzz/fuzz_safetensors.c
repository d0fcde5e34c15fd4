/* libFuzzer harness: the safetensors reader on arbitrary bytes. Every input must give either
 * a state dict whose tensors hold the sizes their shapes say, or an error with a message —
 * never a crash, a leak or an out-of-bounds read (ASan and UBSan watch). ./dev fuzz runs it. */
#include "../../src/frontend/frontend.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_clear_error(); /* each input's failure must bring its own message */
    hb_state_dict sd;
    if (hb_io_safetensors_parse("fuzz.safetensors", data, size, &sd) == HB_OK) {
        for (int i = 0; i < sd.count; i++) {
            const hb_tensor *t = sd.items[i].value;
            int64_t numel = 1;
            for (int d = 0; d < sd.items[i].ndim; d++)
                numel *= sd.items[i].shape[d];
            if (numel != hb_tensor_numel(t) || !sd.items[i].name)
                abort(); /* a tensor that does not match its own entry */
            volatile unsigned char sink = 0; /* every byte readable, of any dtype */
            const unsigned char *raw = hb_tensor_raw((hb_tensor *)t);
            for (int64_t k = 0; k < numel * (int64_t)hb_dtype_size(hb_tensor_dtype(t)); k++)
                sink += raw[k];
            (void)sink;
        }
        hb_state_dict_free(&sd);
    } else if (hb_last_error()[0] == '\0') {
        abort(); /* a failure must say why */
    }
    return 0;
}
