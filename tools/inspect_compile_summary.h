// The paragraph `tessera compile` ends with: where the plan went, what it is (model, mesh,
// size), what it is modelled to cost, and what to run next. Built from the compiler's summary
// and, when the output is a plan file, from the plan itself (the same numbers inspect shows).
#pragma once
#include <string>

#include "compiler/options.h"

namespace tessera::tools {

// `executable`: the output is a runner with the plan inside (--emit executable).
std::string compile_paragraph(const compiler::CompileSummary& s, const compiler::CompileOptions& o,
                              bool executable);

}  // namespace tessera::tools
