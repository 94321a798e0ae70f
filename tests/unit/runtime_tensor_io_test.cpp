#include <gtest/gtest.h>

#include <cstdio>

#include "tensor.pb.h"
#include "tessera/tensor_io.h"
#include "runtime_test_util.h"

namespace tessera {
namespace {

using onnxwire::TensorProto;

StatusOr<HostTensor> parse(const TensorProto& p) {
  std::string s;
  p.SerializeToString(&s);
  return parse_tensor_proto(s.data(), s.size(), "t.pb");
}

TEST(TensorIo, RawRoundTripEveryDType) {
  for (DType dt : {DType::kFloat32, DType::kUInt8, DType::kInt8, DType::kUInt16, DType::kInt16,
                   DType::kInt32, DType::kInt64, DType::kBool, DType::kFloat16, DType::kFloat64,
                   DType::kUInt32, DType::kUInt64, DType::kBFloat16}) {
    HostTensor t = HostTensor::zeros("t", dt, {2, 3});
    for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
    if (dt == DType::kBool)
      for (auto& b : t.bytes) b &= 1;
    const std::string path = testing::scratch_dir() + "/tensor_rt.pb";
    ASSERT_TRUE(write_tensor_proto(path, t).ok());
    auto r = read_tensor_proto(path);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->dtype, dt);
    EXPECT_EQ(r->shape, (Shape{2, 3}));
    EXPECT_EQ(r->bytes, t.bytes) << dtype_name(dt);
    EXPECT_EQ(r->name, "t");
    std::remove(path.c_str());
  }
}

TEST(TensorIo, TypedFields) {
  TensorProto p;
  p.add_dims(3);
  p.set_data_type(1);
  for (float f : {1.5f, -2.f, 3.25f}) p.add_float_data(f);
  auto f = parse(p);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->data<float>()[2], 3.25f);

  TensorProto h;  // f16 bit patterns travel in int32_data
  h.add_dims(2);
  h.set_data_type(10);
  h.add_int32_data(0x3c00);
  h.add_int32_data(0xc000);
  auto hf = parse(h);
  ASSERT_TRUE(hf.ok());
  EXPECT_EQ(hf->data<uint16_t>()[0], 0x3c00);
  EXPECT_EQ(hf->data<uint16_t>()[1], 0xc000);

  TensorProto b;
  b.add_dims(3);
  b.set_data_type(9);
  for (int v : {1, 0, 1}) b.add_int32_data(v);
  auto bb = parse(b);
  ASSERT_TRUE(bb.ok());
  EXPECT_EQ(bb->bytes, (std::vector<uint8_t>{1, 0, 1}));

  TensorProto i8;
  i8.add_dims(2);
  i8.set_data_type(3);
  i8.add_int32_data(-3);
  i8.add_int32_data(100);
  auto r8 = parse(i8);
  ASSERT_TRUE(r8.ok());
  EXPECT_EQ(r8->data<int8_t>()[0], -3);

  TensorProto l;
  l.add_dims(2);
  l.set_data_type(7);
  l.add_int64_data(-5);
  l.add_int64_data(int64_t{1} << 40);
  auto rl = parse(l);
  ASSERT_TRUE(rl.ok());
  EXPECT_EQ(rl->data<int64_t>()[1], int64_t{1} << 40);

  TensorProto d;
  d.set_data_type(11);  // scalar
  d.add_double_data(2.5);
  auto rd = parse(d);
  ASSERT_TRUE(rd.ok());
  EXPECT_TRUE(rd->shape.empty());
  EXPECT_EQ(rd->data<double>()[0], 2.5);

  TensorProto u;
  u.add_dims(1);
  u.set_data_type(12);  // u32 travels in uint64_data
  u.add_uint64_data(4000000000u);
  auto ru = parse(u);
  ASSERT_TRUE(ru.ok());
  EXPECT_EQ(ru->data<uint32_t>()[0], 4000000000u);
}

TEST(TensorIo, Errors) {
  auto missing = read_tensor_proto(testing::scratch_dir() + "/nope.pb");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.pb"), std::string::npos);

  const char junk[] = "\xff\xff\xff\xff garbage";
  auto bad = parse_tensor_proto(junk, sizeof(junk), "junk.pb");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);

  TensorProto p;
  p.add_dims(4);
  p.set_data_type(1);
  p.set_name("w");
  p.add_float_data(1.f);
  auto mism = parse(p);
  ASSERT_FALSE(mism.ok());
  EXPECT_NE(mism.status().message().find("'w'"), std::string::npos) << mism.status().message();

  p.clear_float_data();
  p.set_raw_data(std::string(15, '\0'));
  auto raw = parse(p);
  ASSERT_FALSE(raw.ok());
  EXPECT_NE(raw.status().message().find("raw_data"), std::string::npos);

  TensorProto s;
  s.set_data_type(8);  // string
  s.add_dims(1);
  auto str = parse(s);
  ASSERT_FALSE(str.ok());
  EXPECT_EQ(str.status().code(), Code::kUnimplemented);
}

TEST(TensorIo, ReadsModelZooInput) {
  auto t = read_tensor_proto("../shared/models/tiny/gpt2/test_data_set_0/input_0.pb");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->dtype, DType::kInt64);
  EXPECT_EQ(t->shape, (Shape{2, 16}));
  EXPECT_EQ(t->bytes.size(), 2u * 16 * 8);
}

}  // namespace
}  // namespace tessera
