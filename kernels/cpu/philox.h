// Counter-based random numbers for training-mode Dropout: Philox4x32-10 (Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC'11; the generator of cuRAND and JAX).
// A draw is a pure function of (key, counter), so an element's mask bit depends only on the
// seed, the Dropout node, the step and the element's GLOBAL index: any sharding, chunking or
// recomputation draws the same mask. Cost: one 10-round block per four elements.
#pragma once
#include <array>
#include <cstdint>

namespace tessera::kernels::philox {

using Block = std::array<uint32_t, 4>;
using Key = std::array<uint32_t, 2>;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = uint64_t{a} * b;
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

inline Block philox4x32_10(Block c, Key k) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) k = {k[0] + kW0, k[1] + kW1};
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c[0], &hi0, &lo0);
    mulhilo(kM1, c[2], &hi1, &lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
  }
  return c;
}

// SplitMix64 finaliser: spreads (seed, stream) over the whole 64-bit key.
inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The key of one Dropout node's draws: the compile seed and the node's stream id.
inline Key dropout_key(uint64_t seed, uint64_t stream) {
  const uint64_t k = mix64(seed ^ mix64(stream));
  return {static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
}

// Element `index` keeps when its 32-bit draw is >= threshold (= ratio * 2^32): P(drop) = ratio
// to 2^-32. Block index/4 at `step`; word index%4.
inline uint32_t draw(const Key& key, uint64_t step, uint64_t index) {
  const uint64_t blk = index >> 2;
  const Block c = {static_cast<uint32_t>(blk), static_cast<uint32_t>(blk >> 32),
                   static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32)};
  return philox4x32_10(c, key)[index & 3];
}

inline uint32_t dropout_threshold(double ratio) {
  if (!(ratio > 0)) return 0;
  const double t = ratio * 4294967296.0;
  return t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(t);
}

}  // namespace tessera::kernels::philox
