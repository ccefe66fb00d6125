/*
 * libFuzzer target: the hub's command parser (examples/hub/hub.c), through
 * hub_fuzz_lines (hub_internal.h, built with HUB_FUZZING): the input is the
 * lines one to three clients send to an in-memory hub, without sockets.
 */
#include <stddef.h>
#include <stdint.h>

#include "hub_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return hub_fuzz_lines((const char *)data, size);
}
