/* Thread settings of the compute libraries hybrid calls. */
#include "../common.h"

#include <cblas.h>

void hb_set_num_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}
