#include "layout.h"

#include <cstring>

namespace tessera::runtime {
namespace {

// prod(shape[:dim]) and prod(shape[dim+1:]) * esize.
void outer_inner(const Shape& shape, int64_t dim, int64_t esize, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = esize;
  for (int64_t i = 0; i < dim; ++i) *outer *= shape[i];
  for (size_t i = dim + 1; i < shape.size(); ++i) *inner *= shape[i];
}

}  // namespace

void split_blocks(const uint8_t* in, const Shape& shape, int64_t dim, int64_t n, int64_t esize,
                  uint8_t* out) {
  int64_t outer, inner;
  outer_inner(shape, dim, esize, &outer, &inner);
  const int64_t len = shape[dim], c = len / n, run = c * inner;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out + (i * outer + o) * run, in + (o * len + i * c) * inner, run);
}

void merge_blocks(const uint8_t* blocks, const Shape& block_shape, int64_t dim, int64_t n,
                  int64_t esize, uint8_t* out) {
  int64_t outer, inner;
  outer_inner(block_shape, dim, esize, &outer, &inner);
  const int64_t c = block_shape[dim], run = c * inner;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out + (o * n + i) * run, blocks + (i * outer + o) * run, run);
}

void copy_box(const uint8_t* in, const Shape& shape, const Shape& starts, const Shape& sizes,
              int64_t esize, uint8_t* out) {
  const size_t r = shape.size();
  if (r == 0) {
    std::memcpy(out, in, esize);
    return;
  }
  if (num_elements(sizes) == 0) return;
  // Row-major strides of the source; the innermost dimension is copied as one run.
  Shape stride(r, esize);
  for (size_t i = r - 1; i > 0; --i) stride[i - 1] = stride[i] * shape[i];
  const int64_t run = sizes[r - 1] * esize;
  Shape idx(r, 0);
  for (;;) {
    int64_t off = 0;
    for (size_t i = 0; i < r; ++i) off += (starts[i] + idx[i]) * stride[i];
    std::memcpy(out, in + off, run);
    out += run;
    size_t d = r - 1;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace tessera::runtime
