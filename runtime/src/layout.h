// Row-major rearrangements used by collectives and input sharding. Pure functions over bytes:
// unit-tested without any communicator.
#pragma once
#include <cstdint>

#include "tessera/dtype.h"

namespace tessera::runtime {

// Cuts `in` (shape, esize bytes per element) into n equal slices along dim and stores them one
// after another: block i = slice i, itself row-major. shape[dim] must be divisible by n.
void split_blocks(const uint8_t* in, const Shape& shape, int64_t dim, int64_t n, int64_t esize,
                  uint8_t* out);
// Inverse of split_blocks: n row-major blocks of block_shape, concatenated along dim.
void merge_blocks(const uint8_t* blocks, const Shape& block_shape, int64_t dim, int64_t n,
                  int64_t esize, uint8_t* out);
// Copies the box [starts, starts + sizes) of `in` into a dense `out` of shape sizes.
void copy_box(const uint8_t* in, const Shape& shape, const Shape& starts, const Shape& sizes,
              int64_t esize, uint8_t* out);

}  // namespace tessera::runtime
