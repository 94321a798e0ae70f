// The training kernel table: explicit, sorted by op name (a unit test checks the order).
#include "cpu/train_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_train_kernel_table() {
  using namespace cpu;  // NOLINT
  static const std::vector<KernelEntry> table = {
      {"AdamW", AdamW},
      {"AveragePoolGrad", AveragePoolGrad},
      {"BatchNormApply", BatchNormApply},
      {"BatchNormGradInput", BatchNormGradInput},
      {"BatchNormGradStats", BatchNormGradStats},
      {"BatchNormRunningUpdate", BatchNormRunningUpdate},
      {"BatchNormStats", BatchNormStats},
      {"ConvGradWeight", ConvGradWeight},
      {"Dropout", Dropout},
      {"GatherElementsGrad", GatherElementsGrad},
      {"GatherGrad", GatherGrad},
      {"GeluGrad", GeluGrad},
      {"LayerNormalizationGrad", LayerNormalizationGrad},
      {"MaxPoolGrad", MaxPoolGrad},
      {"ReluGrad", ReluGrad},
      {"SGD", SGD},
      {"SoftmaxCrossEntropyGrad", SoftmaxCrossEntropyGrad},
      {"SoftmaxCrossEntropyLoss", SoftmaxCrossEntropyLoss},
  };
  return table;
}

KernelFn find_cpu_train_kernel(std::string_view op) {
  return find_in_table(cpu_train_kernel_table(), op);
}

}  // namespace tessera::kernels
