/* tools/netsock.c — the netsock command-line tool (placeholder main until
 * the demo lands). */
#include <stdio.h>
#include <string.h>

#include "netsock/netsock.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("netsock %s\n", NS_VERSION);
    return 0;
}
