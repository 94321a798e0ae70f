// The `inspect` and `explain` subcommands, registered on the `tessera` CLI from here so that
// tools/tessera_main.cpp only needs two calls (register, dispatch).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "explain.h"
#include "inspect.h"

namespace tessera::tools {

struct InspectCli {
  std::string plan, node;
  InspectOptions inspect;
  ExplainOptions explain;
  CLI::App* inspect_cmd = nullptr;
  CLI::App* explain_cmd = nullptr;
};

void add_inspect_commands(CLI::App& app, InspectCli& c);
// If the parsed command line chose inspect or explain: runs it, sets *rc, returns true.
bool run_inspect_commands(const InspectCli& c, int* rc);

}  // namespace tessera::tools
