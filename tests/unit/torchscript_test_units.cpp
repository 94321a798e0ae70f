// Reader units: the converter table's order, the pickle VM and the TorchScript parser.
#include <gtest/gtest.h>

#include <cstring>

#include "frontends/torchscript/pickle.h"
#include "frontends/torchscript/ts_ast.h"
#include "frontends/torchscript/ts_import_internal.h"

namespace tessera::ts_fe {
namespace {

#define BYTES(lit) std::string(lit, sizeof(lit) - 1)

TEST(TorchScriptUnits, AtenTableSortedAndUnique) {
  const auto& t = aten_table();
  for (size_t i = 1; i < t.size(); ++i) {
    EXPECT_LT(std::strcmp(t[i - 1].name, t[i].name), 0) << t[i - 1].name << " / " << t[i].name;
  }
  EXPECT_NE(find_aten("linear"), nullptr);
  EXPECT_NE(find_aten("__and__"), nullptr);
  EXPECT_EQ(find_aten("frobnicate"), nullptr);
}

TEST(TorchScriptUnits, PickleScalarsAndContainers) {
  // (1, -2 as LONG1, 3.5, "s", [True, None], {"k": 7})
  std::string b = BYTES(
      "\x80\x02(K\x01\x8a\x01\xfeG\x40\x0c\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00"
      "s]q\x00(\x88Ne}X\x01\x00\x00\x00kK\x07st.");
  auto p = unpickle(b, "t");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  const auto& it = (*p)->items;
  ASSERT_EQ(it.size(), 6u);
  EXPECT_EQ(it[0]->i, 1);
  EXPECT_EQ(it[1]->i, -2);
  EXPECT_DOUBLE_EQ(it[2]->f, 3.5);
  EXPECT_EQ(it[3]->s, "s");
  EXPECT_EQ(it[4]->items.size(), 2u);
  EXPECT_EQ(it[5]->attr("k")->i, 7);
}

TEST(TorchScriptUnits, PickleTensorRebuild) {
  std::string b = BYTES(
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n("
      "(X\x07\x00\x00\x00"
      "storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
      "0"
      "X\x03\x00\x00\x00"
      "cpuK\x06tQK\x00K\x02K\x03\x86K\x01K\x02\x86\x89"
      "ccollections\nOrderedDict\n)RtR.");
  auto p = unpickle(b, "t");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_EQ((*p)->kind, PyObj::kTensor);
  EXPECT_EQ((*p)->tensor->sizes, (Shape{2, 3}));
  EXPECT_EQ((*p)->tensor->strides, (Shape{1, 2}));
  EXPECT_EQ((*p)->tensor->dtype, DType::kFloat32);
}

TEST(TorchScriptUnits, ParserStatements) {
  auto f = parse_source(
      "class A(Module):\n"
      "  __parameters__ = [\"weight\", ]\n"
      "  weight : Tensor\n"
      "  def forward(self: __torch__.A,\n"
      "    x: Tensor) -> Tuple[Tensor, Tensor]:\n"
      "    a, b, = torch.split(x, [1, 2], -1)\n"
      "    c = torch.add(a, 1.0000000000000001e-05, alpha=-2)\n"
      "    return (a, c)\n",
      "code/__torch__.py");
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const ClassDef* a = f->find_class("A");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->parameters, std::vector<std::string>{"weight"});
  const Def& d = a->methods.at("forward");
  EXPECT_EQ(d.params, std::vector<std::string>{"x"});
  ASSERT_EQ(d.body.size(), 3u);
  EXPECT_EQ(d.body[0].targets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.body[1].value->kwargs.at(0).first, "alpha");
  EXPECT_EQ(d.body[2].kind, Stmt::kReturn);
  EXPECT_EQ(d.body[2].value->kind, Expr::kTuple);
}

}  // namespace
}  // namespace tessera::ts_fe
