/* libFuzzer target: the line codec (codecs/line.c). See fuzz_codec.h. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_codec(oocsi_codec_line(), "{'message' : \"welcome fuzz\"}", data, size);
}
