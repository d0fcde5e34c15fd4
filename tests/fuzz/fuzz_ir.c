/* libFuzzer harness: the IR text parser on arbitrary text. A graph it accepts must verify and
 * print back to text that parses to the same text (the round trip the graph suite checks on
 * known graphs); anything else is an error with a message. */
#include "../../src/ir/graph.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[512] = "";
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    hb_graph *g = hb_graph_parse(text, err, sizeof err);
    if (g) {
        char why[400];
        if (hb_graph_verify(g, why, sizeof why) != HB_OK)
            abort(); /* the parser let through a graph the verifier refuses */
        char *once = hb_graph_to_string(g);
        hb_graph *again = once ? hb_graph_parse(once, err, sizeof err) : NULL;
        char *twice = again ? hb_graph_to_string(again) : NULL;
        if (once && (!twice || strcmp(once, twice) != 0))
            abort(); /* print -> parse -> print must give the same text */
        hb_free(once), hb_free(twice);
        hb_graph_free(again);
        hb_graph_free(g);
    } else if (err[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
