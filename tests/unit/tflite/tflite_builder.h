// Builds small .tflite FlatBuffers for tests, with flatbuffers'
// FlatBufferBuilder and the field ids of the TFLite schema (table Model,
// OperatorCode, SubGraph, Tensor, QuantizationParameters, Operator, Buffer).
#pragma once
#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace ef::test {

inline flatbuffers::voffset_t F(int id) { return flatbuffers::voffset_t(4 + 2 * id); }

struct TTensor {
  std::vector<int32_t> shape;
  int8_t type = 0;  // FLOAT32
  uint32_t buffer = 0;
  std::string name;
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
  // sparsity (optional): built by this callback, returns the table offset
  std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)> sparsity;
};
struct TOp {
  uint32_t opcode = 0;
  std::vector<int32_t> inputs, outputs;
  std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)> options;  // builtin options table
  std::vector<uint8_t> custom_options;
};
struct TCode {
  int32_t builtin = 0;
  std::string custom;
  int32_t version = 1;
};

// A table with scalar fields {id, value} (int32 or float via bits), for builtin options.
struct Field {
  int id;
  enum Kind { i8, i32, f32 } kind;
  double v;
};
inline std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)> options(std::vector<Field> fs) {
  return [fs](flatbuffers::FlatBufferBuilder& b) {
    auto start = b.StartTable();
    for (const Field& f : fs) {
      if (f.kind == Field::i8) b.AddElement<int8_t>(F(f.id), int8_t(f.v), int8_t(f.v) + 1);  // force write
      if (f.kind == Field::i32) b.AddElement<int32_t>(F(f.id), int32_t(f.v), int32_t(f.v) + 1);
      if (f.kind == Field::f32) b.AddElement<float>(F(f.id), float(f.v), float(f.v) + 1);
    }
    return flatbuffers::Offset<void>(b.EndTable(start));
  };
}

template <class T> std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

struct TModel {
  uint32_t version = 3;
  std::vector<TCode> codes;
  std::vector<TTensor> tensors;
  std::vector<std::vector<uint8_t>> buffers{{}};  // buffer 0: the empty sentinel
  std::vector<TOp> ops;
  std::vector<int32_t> inputs, outputs;

  uint32_t add_buffer(std::vector<uint8_t> data) {
    buffers.push_back(std::move(data));
    return uint32_t(buffers.size() - 1);
  }
  int32_t add_tensor(TTensor t) {
    tensors.push_back(std::move(t));
    return int32_t(tensors.size() - 1);
  }
  template <class T> int32_t add_const(const std::string& name, std::vector<int32_t> shape, int8_t type,
                                       const std::vector<T>& v) {
    TTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.type = type;
    t.buffer = add_buffer(bytes_of(v));
    return add_tensor(std::move(t));
  }

  std::vector<uint8_t> build() const {
    flatbuffers::FlatBufferBuilder b;
    using flatbuffers::Offset;
    std::vector<Offset<void>> codes_o;
    for (const TCode& c : codes) {
      auto cc = c.custom.empty() ? Offset<flatbuffers::String>() : b.CreateString(c.custom);
      auto s = b.StartTable();
      b.AddElement<int8_t>(F(0), int8_t(std::min(c.builtin, 127)), 0);
      if (!c.custom.empty()) b.AddOffset(F(1), cc);
      b.AddElement<int32_t>(F(2), c.version, 1);
      b.AddElement<int32_t>(F(3), c.builtin, 0);
      codes_o.push_back(Offset<void>(b.EndTable(s)));
    }
    std::vector<Offset<void>> tensors_o;
    for (const TTensor& t : tensors) {
      auto shape = b.CreateVector(t.shape);
      auto name = b.CreateString(t.name);
      Offset<void> q;
      if (!t.scale.empty() || !t.zero_point.empty()) {
        auto sc = b.CreateVector(t.scale);
        auto zp = b.CreateVector(t.zero_point);
        auto s = b.StartTable();
        b.AddOffset(F(2), sc);
        b.AddOffset(F(3), zp);
        b.AddElement<int32_t>(F(6), t.quantized_dimension, 0);
        q = Offset<void>(b.EndTable(s));
      }
      Offset<void> sp;
      if (t.sparsity) sp = t.sparsity(b);
      auto s = b.StartTable();
      b.AddOffset(F(0), shape);
      b.AddElement<int8_t>(F(1), t.type, 0);
      b.AddElement<uint32_t>(F(2), t.buffer, 0);
      b.AddOffset(F(3), name);
      if (!q.IsNull()) b.AddOffset(F(4), q);
      if (!sp.IsNull()) b.AddOffset(F(6), sp);
      tensors_o.push_back(Offset<void>(b.EndTable(s)));
    }
    std::vector<Offset<void>> ops_o;
    for (const TOp& o : ops) {
      auto in = b.CreateVector(o.inputs);
      auto out = b.CreateVector(o.outputs);
      Offset<void> opts;
      if (o.options) opts = o.options(b);
      Offset<flatbuffers::Vector<uint8_t>> copts;
      if (!o.custom_options.empty()) copts = b.CreateVector(o.custom_options);
      auto s = b.StartTable();
      b.AddElement<uint32_t>(F(0), o.opcode, 0);
      b.AddOffset(F(1), in);
      b.AddOffset(F(2), out);
      if (!opts.IsNull()) {
        b.AddElement<uint8_t>(F(3), 1, 0);
        b.AddOffset(F(4), opts);
      }
      if (!copts.IsNull()) b.AddOffset(F(5), copts);
      ops_o.push_back(Offset<void>(b.EndTable(s)));
    }
    auto tv = b.CreateVector(tensors_o);
    auto iv = b.CreateVector(inputs);
    auto ov = b.CreateVector(outputs);
    auto opv = b.CreateVector(ops_o);
    auto sgname = b.CreateString("main");
    auto s = b.StartTable();
    b.AddOffset(F(0), tv);
    b.AddOffset(F(1), iv);
    b.AddOffset(F(2), ov);
    b.AddOffset(F(3), opv);
    b.AddOffset(F(4), sgname);
    Offset<void> sg(b.EndTable(s));
    std::vector<Offset<void>> bufs_o;
    for (const auto& d : buffers) {
      Offset<flatbuffers::Vector<uint8_t>> dv;
      if (!d.empty()) {
        b.ForceVectorAlignment(d.size(), 1, 16);
        dv = b.CreateVector(d);
      }
      auto s2 = b.StartTable();
      if (!dv.IsNull()) b.AddOffset(F(0), dv);
      bufs_o.push_back(Offset<void>(b.EndTable(s2)));
    }
    auto codes_v = b.CreateVector(codes_o);
    auto sgs = b.CreateVector(std::vector<Offset<void>>{sg});
    auto bufs_v = b.CreateVector(bufs_o);
    auto desc = b.CreateString("edgeflow test");
    auto m = b.StartTable();
    b.AddElement<uint32_t>(F(0), version, 0);
    b.AddOffset(F(1), codes_v);
    b.AddOffset(F(2), sgs);
    b.AddOffset(F(3), desc);
    b.AddOffset(F(4), bufs_v);
    b.Finish(flatbuffers::Offset<void>(b.EndTable(m)), "TFL3");
    return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  }
};

}  // namespace ef::test
