// The quantized kernel table: explicit, sorted by op name (a unit test checks the order).
#include "cpu/quant_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_quant_kernel_table() {
  using namespace cpu;  // NOLINT
  static const std::vector<KernelEntry> table = {
      {"DequantizeI8", DequantizeI8},
      {"QConvI8", QConvI8},
      {"QMatMulI8", QMatMulI8},
      {"QuantizeI8", QuantizeI8},
  };
  return table;
}

KernelFn find_cpu_quant_kernel(std::string_view op) {
  return find_in_table(cpu_quant_kernel_table(), op);
}

}  // namespace tessera::kernels
