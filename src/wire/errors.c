/* wire/errors.c — the text of each parse error (the NS_WIRE_ERRORS table
 * in wire.h). */
#include "wire/wire.h"

const char *ns_wire_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
#define NS_WIRE_TEXT_(name, value, text) \
    case value:                          \
        return text;
        NS_WIRE_ERRORS(NS_WIRE_TEXT_)
#undef NS_WIRE_TEXT_
    default:
        return "unknown wire error";
    }
}
