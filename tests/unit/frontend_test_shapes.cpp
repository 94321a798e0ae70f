// ir::infer on canonical nodes: shapes, dtypes and the validation errors.
#include <gtest/gtest.h>

#include "ir/op_table.h"
#include "ir/shape_infer.h"

namespace tessera::ir {
namespace {

const DType F = DType::kFloat32;
const DType I = DType::kInt64;

StatusOr<std::vector<TypeShape>> run(const std::string& op, std::vector<TypeShape> in,
                                     AttrMap attrs = {}, int outs = 1) {
  Node n;
  n.name = "n";
  n.op = op;
  n.attrs = std::move(attrs);
  n.inputs.assign(in.size(), 0);
  n.outputs.assign(outs, 0);
  return infer(n, in);
}

Shape shape_of(const StatusOr<std::vector<TypeShape>>& r, size_t i = 0) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value()[i].second : Shape{-1};
}

TEST(ShapeInfer, TableIsSortedAndFindable) {
  ASSERT_NE(find_op("MatMul"), nullptr);
  EXPECT_EQ(find_op("Shape"), nullptr);  // always folded, not canonical
  EXPECT_EQ(find_op("Reshape")->lifts.at(0).since_opset, 5);
  EXPECT_EQ(find_op("ReduceMean")->lifts.at(0).since_opset, 18);
  EXPECT_EQ(find_op("ReduceSum")->lifts.at(0).since_opset, 13);
}

TEST(ShapeInfer, Broadcasting) {
  EXPECT_EQ(shape_of(run("Add", {{F, {2, 1, 4}}, {F, {3, 1}}})), (Shape{2, 3, 4}));
  EXPECT_EQ(shape_of(run("Where", {{DType::kBool, {1, 4}}, {F, {3, 1}}, {F, {}}})), (Shape{3, 4}));
  auto bad = run("Mul", {{F, {2, 3}}, {F, {4}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("node 'n' (Mul): shapes [2,3] and [4] do not broadcast"),
            std::string::npos)
      << bad.status().message();
  EXPECT_EQ(run("Equal", {{I, {2}}, {I, {2}}}).value()[0].first, DType::kBool);
}

TEST(ShapeInfer, MatMul) {
  EXPECT_EQ(shape_of(run("MatMul", {{F, {8, 1, 16, 64}}, {F, {4, 64, 32}}})),
            (Shape{8, 4, 16, 32}));
  EXPECT_EQ(shape_of(run("MatMul", {{F, {64}}, {F, {64, 32}}})), (Shape{32}));
  EXPECT_EQ(shape_of(run("MatMul", {{F, {5, 64}}, {F, {64}}})), (Shape{5}));
  auto bad = run("MatMul", {{F, {2, 3}}, {F, {4, 5}}});
  EXPECT_NE(bad.status().message().find("inner dims differ"), std::string::npos);
  AttrMap g{{"transA", Attr::Int(1)}, {"transB", Attr::Int(0)}};
  EXPECT_EQ(shape_of(run("Gemm", {{F, {3, 2}}, {F, {3, 5}}, {F, {5}}}, g)), (Shape{2, 5}));
}

TEST(ShapeInfer, Conv) {
  AttrMap a{{"kernel_shape", Attr::Ints({3, 3})},
            {"strides", Attr::Ints({2, 2})},
            {"pads", Attr::Ints({1, 1, 1, 1})},
            {"dilations", Attr::Ints({1, 1})},
            {"group", Attr::Int(1)}};
  EXPECT_EQ(shape_of(run("Conv", {{F, {2, 3, 32, 32}}, {F, {16, 3, 3, 3}}, {F, {16}}}, a)),
            (Shape{2, 16, 16, 16}));
  auto bad = run("Conv", {{F, {2, 4, 32, 32}}, {F, {16, 3, 3, 3}}}, a);
  EXPECT_NE(bad.status().message().find("channels"), std::string::npos);
  a["group"] = Attr::Int(2);
  EXPECT_EQ(shape_of(run("Conv", {{F, {2, 4, 8, 8}}, {F, {6, 2, 3, 3}}}, a)), (Shape{2, 6, 4, 4}));
}

TEST(ShapeInfer, Reshape) {
  EXPECT_EQ(shape_of(run("Reshape", {{F, {2, 3, 4}}}, {{"shape", Attr::Ints({6, 4})}})),
            (Shape{6, 4}));
  auto bad = run("Reshape", {{F, {2, 3, 4}}}, {{"shape", Attr::Ints({5, 4})}});
  EXPECT_NE(bad.status().message().find("cannot reshape [2,3,4] (24 elements) to [5,4]"),
            std::string::npos);
}

TEST(ShapeInfer, Slice) {
  AttrMap a{{"starts", Attr::Ints({1, 9})},
            {"ends", Attr::Ints({10, -1})},
            {"axes", Attr::Ints({0, 1})},
            {"steps", Attr::Ints({3, -2})}};
  EXPECT_EQ(shape_of(run("Slice", {{F, {10, 10}}}, a)), (Shape{3, 5}));
}

TEST(ShapeInfer, Gather) {
  EXPECT_EQ(shape_of(run("Gather", {{F, {512, 64}}, {I, {2, 16}}}, {{"axis", Attr::Int(0)}})),
            (Shape{2, 16, 64}));
  EXPECT_EQ(shape_of(run("Gather", {{F, {4, 5, 6}}, {I, {}}}, {{"axis", Attr::Int(1)}})),
            (Shape{4, 6}));
  EXPECT_FALSE(run("Gather", {{F, {4}}, {F, {2}}}, {{"axis", Attr::Int(0)}}).ok());
}

TEST(ShapeInfer, Split) {
  auto r = run("Split", {{F, {2, 10}}}, {{"axis", Attr::Int(1)}, {"split", Attr::Ints({3, 7})}}, 2);
  EXPECT_EQ(shape_of(r, 0), (Shape{2, 3}));
  EXPECT_EQ(shape_of(r, 1), (Shape{2, 7}));
  auto bad =
      run("Split", {{F, {2, 10}}}, {{"axis", Attr::Int(1)}, {"split", Attr::Ints({3, 8})}}, 2);
  EXPECT_NE(bad.status().message().find("sum to 11"), std::string::npos);
}

TEST(ShapeInfer, ConcatAndArity) {
  EXPECT_EQ(shape_of(run("Concat", {{F, {2, 3}}, {F, {2, 5}}}, {{"axis", Attr::Int(1)}})),
            (Shape{2, 8}));
  EXPECT_FALSE(run("Concat", {{F, {2, 3}}, {F, {3, 5}}}, {{"axis", Attr::Int(1)}}).ok());
  EXPECT_FALSE(run("Relu", {{F, {2}}, {F, {2}}}).ok());
}

}  // namespace
}  // namespace tessera::ir
