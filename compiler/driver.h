// The compiler as one function: the stages in pipeline order (docs/pipeline.md).
#pragma once
#include "compiler/options.h"
#include "tessera/status.h"

namespace tessera::compiler {

Status compile(const CompileOptions& opts, CompileSummary* summary);

}  // namespace tessera::compiler
