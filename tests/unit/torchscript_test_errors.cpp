// Malformed and unsupported TorchScript archives: each error is one clear line (or one list).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "frontends/torchscript/torchscript_import.h"
#include "torchscript_test_util.h"

namespace tessera::ts_fe {
namespace {

using testing::make_zip;

// A module object of class __torch__.M with training=False, as torch.jit.save pickles it.
#define BYTES(lit) std::string(lit, sizeof(lit) - 1)
const std::string kModulePkl = BYTES(
    "\x80\x02"
    "c__torch__\nM\n)\x81}(X\x08\x00\x00\x00"
    "training\x89ub.");

std::string code_with(const std::string& body) {
  return "class M(Module):\n"
         "  __parameters__ = []\n"
         "  training : bool\n"
         "  def forward(self: __torch__.M,\n"
         "    x: Tensor) -> Tensor:\n" +
         body;
}

StatusOr<ir::Graph> import_zip(const std::vector<std::pair<std::string, std::string>>& e) {
  ImportOptions o;
  o.input_shapes = {{DType::kFloat32, {2, 3}}};
  return import_torchscript_bytes(make_zip(e), "test.pt", o);
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TorchScriptErrors, TruncatedZip) {
  std::string b = read_file("../shared/models/tiny/gpt2/model.torchscript.pt");
  ASSERT_GT(b.size(), 1000u);
  auto g = import_torchscript_bytes(b.substr(0, b.size() / 2), "cut.pt", {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("truncated"), std::string::npos) << g.status().message();
}

TEST(TorchScriptErrors, MissingDataPkl) {
  auto g = import_zip({{"m/version", "3"}, {"m/code/__torch__.py", code_with("    return x\n")}});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("no data.pkl"), std::string::npos) << g.status().message();
}

TEST(TorchScriptErrors, BadPickleOpcode) {
  auto g = import_zip({{"m/data.pkl", "\x80\x02\xfe."},
                       {"m/version", "3"},
                       {"m/code/__torch__.py", code_with("    return x\n")}});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("data.pkl: bad pickle: unsupported opcode 0xfe"),
            std::string::npos)
      << g.status().message();
}

TEST(TorchScriptErrors, TruncatedPickle) {
  auto g = import_zip({{"m/data.pkl", kModulePkl.substr(0, 20)},
                       {"m/version", "3"},
                       {"m/code/__torch__.py", code_with("    return x\n")}});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("bad pickle"), std::string::npos) << g.status().message();
}

TEST(TorchScriptErrors, FormatVersion) {
  auto g = import_zip({{"m/data.pkl", kModulePkl},
                       {"m/version", "42"},
                       {"m/code/__torch__.py", code_with("    return x\n")}});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kVersion);
  EXPECT_NE(g.status().message().find("version 42"), std::string::npos) << g.status().message();
}

TEST(TorchScriptErrors, MissingClassSource) {
  auto g = import_zip(
      {{"m/data.pkl", kModulePkl}, {"m/version", "3"}, {"m/code/__torch__/other.py", "\n"}});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("code/__torch__.py missing"), std::string::npos)
      << g.status().message();
}

TEST(TorchScriptErrors, UnsupportedOpsListedAtOnce) {
  auto g = import_zip({{"m/data.pkl", kModulePkl},
                       {"m/version", "3"},
                       {"m/code/__torch__.py", code_with("    _0 = torch.frobnicate(x, 1)\n"
                                                         "    _1 = torch.relu(_0)\n"
                                                         "    return ops.aten.wibble(_1)\n")}});
  ASSERT_FALSE(g.ok());
  const std::string& m = g.status().message();
  EXPECT_EQ(g.status().code(), Code::kUnimplemented);
  EXPECT_NE(m.find("2 unsupported op(s)"), std::string::npos) << m;
  EXPECT_NE(m.find("aten::frobnicate (code/__torch__.py:6)"), std::string::npos) << m;
  EXPECT_NE(m.find("aten::wibble (code/__torch__.py:8)"), std::string::npos) << m;
}

TEST(TorchScriptErrors, ScriptedControlFlowRefused) {
  auto g = import_zip({{"m/data.pkl", kModulePkl},
                       {"m/version", "3"},
                       {"m/code/__torch__.py", code_with("    if torch.gt(x, 0):\n"
                                                         "      x = torch.relu(x)\n"
                                                         "    else:\n"
                                                         "      pass\n"
                                                         "    return x\n")}});
  ASSERT_FALSE(g.ok());
  const std::string& m = g.status().message();
  EXPECT_NE(m.find("scripted control flow ('if' at line 6"), std::string::npos) << m;
  EXPECT_NE(m.find("torch.jit.trace"), std::string::npos) << m;
}

TEST(TorchScriptErrors, NoInputShapes) {
  auto g =
      import_torchscript_bytes(make_zip({{"m/data.pkl", kModulePkl},
                                         {"m/version", "3"},
                                         {"m/code/__torch__.py", code_with("    return x\n")}}),
                               "test.pt", {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("no shape for forward input 'x'"), std::string::npos)
      << g.status().message();
}

TEST(TorchScriptErrors, NotAZip) {
  auto g = import_torchscript_bytes("definitely not a zip archive", "junk.pt", {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("not a zip archive"), std::string::npos);
}

TEST(TorchScriptErrors, TorchExportArchive) {
  auto g = import_torchscript_bytes(
      make_zip({{"m/archive_format", "pt2"}, {"m/models/model.json", "{}"}}), "m.pt2", {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("torch.export"), std::string::npos);
}

// A small module of our own: a CONSTANTS-free straight line with in-place ops and unpacking.
TEST(TorchScriptErrors, SyntheticModuleRuns) {
  ir::TensorData in;
  in.dtype = DType::kFloat32;
  in.shape = {2, 4};
  std::vector<float> xs = {1, 2, 3, 4, 5, 6, 7, 8};
  in.bytes.assign(reinterpret_cast<uint8_t*>(xs.data()),
                  reinterpret_cast<uint8_t*>(xs.data()) + 32);
  ImportOptions o;
  o.input_shapes = {{DType::kFloat32, {2, 4}}};
  auto g2 = import_torchscript_bytes(
      make_zip(
          {{"m/data.pkl", kModulePkl},
           {"m/version", "3"},
           {"m/code/__torch__.py", code_with("    a, b, = torch.chunk(x, 2, 1)\n"
                                             "    _0 = torch.add_(a, b, alpha=2)\n"
                                             "    c = torch.mul(a, 0.5)\n"
                                             "    _1 = ops.prim.NumToTensor(torch.size(x, 0))\n"
                                             "    return torch.view(c, [int(_1), -1])\n")}}),
      "t.pt", o);
  ASSERT_TRUE(g2.ok()) << g2.status().to_string();
  auto out = testing::run_graph(*g2, {in});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  // a += 2 * b (in place), then a * 0.5: row 0 = (1 + 6, 2 + 8) / 2
  const float* r = (*out)[0].as<float>();
  EXPECT_EQ((*out)[0].shape, (Shape{2, 2}));
  EXPECT_FLOAT_EQ(r[0], 3.5f);
  EXPECT_FLOAT_EQ(r[1], 5.0f);
  EXPECT_FLOAT_EQ(r[2], 9.5f);  // (5 + 14) / 2
}

}  // namespace
}  // namespace tessera::ts_fe
