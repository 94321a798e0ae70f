// Malformed and unsupported models built as ModelProto in the test, written to a temp file.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <fstream>

#include "frontends/onnx/onnx_import.h"

namespace tessera::onnx_fe {
namespace {

struct Builder {
  onnx::ModelProto m;
  Builder(int ir = 8, int opset = 17) {
    m.set_ir_version(ir);
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    m.mutable_graph()->set_name("t");
  }
  void input(const std::string& name, int dtype, std::vector<std::string> dims) {
    auto* v = m.mutable_graph()->add_input();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(dtype);
    for (const auto& d : dims) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (isdigit(d[0]))
        dim->set_dim_value(std::stoll(d));
      else
        dim->set_dim_param(d);
    }
  }
  onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> in,
                        std::vector<std::string> out, const std::string& domain = "") {
    auto* n = m.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    n->set_domain(domain);
    for (auto& i : in) n->add_input(i);
    for (auto& o : out) n->add_output(o);
    return n;
  }
  void output(const std::string& name) { m.mutable_graph()->add_output()->set_name(name); }
  void int_init(const std::string& name, std::vector<int64_t> v) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
  }
  std::string write() const {
    std::string path = ::testing::TempDir() + "tsr_fe_" + std::to_string(::getpid()) + "_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".onnx";
    std::ofstream f(path, std::ios::binary);
    m.SerializeToOstream(&f);
    return path;
  }
  StatusOr<ir::Graph> import(ImportOptions o = {}) const { return import_onnx(write(), o); }
};

std::string err(const StatusOr<ir::Graph>& g) { return g.ok() ? "(ok)" : g.status().message(); }

TEST(FrontendErrors, UnknownOpsListedAllAtOnce) {
  Builder b;
  b.input("x", 1, {"2", "3"});
  b.node("FooOp", "foo_1", {"x"}, {"y"});
  b.node("FooOp", "foo_2", {"y"}, {"z"});
  b.node("Attention", "attn", {"z"}, {"w"}, "com.microsoft");
  b.output("w");
  auto g = b.import();
  ASSERT_FALSE(g.ok());
  EXPECT_NE(err(g).find("FooOp (opset 17): 2 node(s): foo_1, foo_2"), std::string::npos) << err(g);
  EXPECT_NE(err(g).find("com.microsoft::Attention"), std::string::npos) << err(g);
}

TEST(FrontendErrors, BadAttribute) {
  Builder b;
  b.input("x", 1, {"2", "3"});
  b.node("Concat", "cat", {"x", "x"}, {"y"})->add_attribute()->set_name("axis");
  auto* a = b.m.mutable_graph()->mutable_node(0)->mutable_attribute(0);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(5);
  b.output("y");
  auto g = b.import();
  EXPECT_NE(err(g).find("node 'cat' (Concat): axis 5 out of range"), std::string::npos) << err(g);
}

TEST(FrontendErrors, MatMulShapeMismatch) {
  Builder b;
  b.input("a", 1, {"2", "3"});
  b.input("b", 1, {"4", "5"});
  b.node("MatMul", "mm", {"a", "b"}, {"y"});
  b.output("y");
  auto g = b.import();
  EXPECT_NE(err(g).find("node 'mm' (MatMul): inner dims differ: a [2,3]"), std::string::npos)
      << err(g);
  EXPECT_NE(err(g).find("[4,5]"), std::string::npos) << err(g);
}

TEST(FrontendErrors, UnboundDimParam) {
  Builder b;
  b.input("x", 1, {"batch", "3"});
  b.node("Relu", "r", {"x"}, {"y"});
  b.output("y");
  auto g = b.import();
  EXPECT_NE(err(g).find("graph input 'x' dim 0 'batch' is symbolic and unbound"), std::string::npos)
      << err(g);
  ImportOptions o;
  o.dim_bindings["batch"] = 4;
  auto ok = b.import(o);
  ASSERT_TRUE(ok.ok()) << err(ok);
  EXPECT_EQ(ok->values[ok->outputs[0]].shape, (Shape{4, 3}));
}

TEST(FrontendErrors, TruncatedAndMissingFiles) {
  Builder b;
  b.input("x", 1, {"2", "3"});
  b.node("Relu", "r", {"x"}, {"y"});
  b.output("y");
  std::string bytes = b.m.SerializeAsString();
  std::string path = b.write();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  auto g = import_onnx(path, {});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kCorrupt) << err(g);
  auto m = import_onnx("/nonexistent/model.onnx", {});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kNotFound);
  EXPECT_NE(err(m).find("/nonexistent/model.onnx"), std::string::npos);
}

TEST(FrontendErrors, WrongInputDtype) {
  Builder b;
  b.input("a", 1, {"2"});
  b.input("b", 7, {"2"});
  b.node("Add", "add", {"a", "b"}, {"y"});
  b.output("y");
  auto g = b.import();
  EXPECT_NE(err(g).find("node 'add' (Add): input 0 is f32 but input 1 is i64"), std::string::npos)
      << err(g);
}

TEST(FrontendErrors, IrVersionAndOpset) {
  EXPECT_NE(err(Builder(11, 17).import()).find("IR version 11"), std::string::npos);
  EXPECT_NE(err(Builder(8, 21).import()).find("opset 21"), std::string::npos);
}

TEST(FrontendErrors, LiftedInputMustBeConstant) {
  Builder b;
  b.input("x", 1, {"2", "3"});
  b.input("s", 7, {"1"});
  b.node("Reshape", "rs", {"x", "s"}, {"y"});
  b.output("y");
  auto g = b.import();
  EXPECT_NE(err(g).find("node 'rs' (Reshape): input 1 's' must be a compile-time constant"),
            std::string::npos)
      << err(g);
}

TEST(FrontendFold, ShapeSubgraphFoldsAndReshapeResolves) {
  Builder b(8, 17);
  b.input("x", 1, {"batch", "4", "6"});
  b.int_init("idx0", {0});
  b.int_init("minus1", {-1});
  b.node("Shape", "", {"x"}, {"s"});
  b.node("Gather", "g", {"s", "idx0"}, {"b0"});
  b.node("Concat", "c", {"b0", "minus1"}, {"shape"})->add_attribute()->set_name("axis");
  b.m.mutable_graph()->mutable_node(2)->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  b.node("Reshape", "", {"x", "shape"}, {"y"});
  b.output("y");
  ImportOptions o;
  o.dim_bindings["batch"] = 3;
  auto g = b.import(o);
  ASSERT_TRUE(g.ok()) << err(g);
  ASSERT_EQ(g->nodes.size(), 1u) << dump_graph(*g);
  EXPECT_EQ(g->nodes[0].op, "Reshape");
  EXPECT_EQ(g->nodes[0].name, "Reshape_3");
  EXPECT_EQ(g->nodes[0].attrs.at("shape").ints, (std::vector<int64_t>{3, 24}));
  EXPECT_EQ(g->nodes[0].inputs.size(), 1u);
}

}  // namespace
}  // namespace tessera::onnx_fe
