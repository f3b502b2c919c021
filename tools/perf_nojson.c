/* tools/perf_nojson.c — `netsock perf` in a build without cJSON: the
 * iperf3 protocol exchanges JSON, so the tool is left out and says why.
 * Built instead of perf.c and perf_proto.c when CMake finds no libcjson
 * (docs/building.md). */
#include <stdio.h>

#include "tools.h"

int tool_perf(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "netsock perf: this netsock was built without cJSON (the iperf3 protocol's "
                    "JSON); install libcjson-dev (scripts/bootstrap does) and rebuild\n");
    return 2;
}
