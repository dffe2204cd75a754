// TFLite FlatBuffer -> edgeflow IR (NHWC end to end).
//
// Operators map onto ONNX semantics with layout="NHWC" on spatial ops (see
// docs/ARCHITECTURE.md). Weights are re-laid out once here (OHWI -> OIHW for
// Conv, -> IOHW for ConvTranspose); TF's SAME/VALID padding becomes explicit
// pads from the static shapes stored in the file. Float16 weights behind
// DEQUANTIZE and sparse weights behind DENSIFY are folded into float32 / dense
// constants at load. Quantized (int8/uint8) operators come in QDQ form
// (DequantizeLinear -> float op -> QuantizeLinear), which the optimizer's
// fuse_qdq pass runs as int8 operators.
#include "importers/tflite/tflite_importer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <unordered_set>

#include "importers/tflite/tflite_schema.h"
#include "importers/tflite/tflite_sparse.h"

namespace ef {
namespace {

using namespace tfl;
using K = FieldKind;

struct OpInfo {
  int32_t code = 0;
  std::string custom;
  int version = 1;
  std::string name() const { return code == CUSTOM ? "custom op '" + custom + "'" : builtin_name(code); }
};

class Importer {
 public:
  Importer(const uint8_t* buf, size_t size, std::string file, bool keep_float16)
      : buf_(buf), size_(size), file_(std::move(file)), keep_float16_(keep_float16) {}
  Graph run();

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw Error(file_ + ": " + msg); }

  // ---- tensors ----
  TableRef tensor(int t) const { return sg_.at(subgraph::tensors, size_t(t)); }
  std::string tname(int t) const { return names_.at(size_t(t)); }
  DType tdtype(int t) const;
  Shape tshape(int t) const;
  QuantParams tquant(int t, const Shape& shape) const;
  bool has_data(int t) const;
  Tensor tdata(int t) const;  // constant contents (dense), with quant
  int val(int t);             // value id for tensor t (created on first use)
  bool is_const(int t) const;  // stored data, or folded at load (DEQUANTIZE/DENSIFY)
  Tensor cval(int t) const;    // the constant contents of tensor t
  int out_val(int t);         // value id for an op output (runtime value)
  void check_index(int t, const char* what) const;

  // ---- constants / nodes ----
  int const_i64(const std::string& base, std::vector<int64_t> v, Shape shape = {});
  int const_f32(const std::string& base, std::vector<float> v, Shape shape = {});
  int node(const std::string& op, std::vector<int> ins, std::vector<int> outs, Attrs a = {});
  int temp(const std::string& base);  // a fresh runtime value
  std::vector<int64_t> const_ints_of(int t, const char* what) const;
  bool quantized_tensor(int t) const;  // int8/uint8 with quantization parameters
  int qparam_scale(const Value& v);     // scale / zero point constants of a quantized value
  int qparam_zp(const Value& v);
  int dequantized(int v);               // DequantizeLinear(v), made once

  // ---- ops ----
  void import_op(size_t index);
  void map_builtin(const OpInfo& info, TableRef opts, const std::vector<int>& in, const std::vector<int>& out);
  void map_custom(const OpInfo& info, const flatbuffers::Vector<uint8_t>* copts, const std::vector<int>& in,
                  const std::vector<int>& out);
  TableRef options(TableRef op, const char* name, std::vector<FieldSpec> fields);
  void set_activation(Attrs& a, int code) const;
  void conv_pads(Attrs& a, int padding, const Shape& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh,
                 int64_t dw) const;
  void transpose_conv(int x, int w, int bias, int padding, int64_t sh, int64_t sw, int act, int out);

  const uint8_t* buf_;
  size_t size_;
  std::string file_;
  bool keep_float16_;  // DEQUANTIZE of a float16 constant: keep its bits
  Graph g_;
  TableRef model_, sg_;
  std::vector<OpInfo> opcodes_;
  std::vector<std::string> names_;
  std::vector<int> value_of_;  // tensor index -> value id (-1: not yet)
  std::unordered_set<std::string> used_names_;
  std::string op_context_;  // for messages
  std::map<int, int> dequantized_;  // quantized value -> its DequantizeLinear output
  Verifier* verifier_ = nullptr;
};

std::string unique_in(std::unordered_set<std::string>& used, const std::string& base) {
  std::string b = base.empty() ? "t" : base;
  if (used.insert(b).second) return b;
  for (int k = 1;; ++k) {
    std::string c = b + "_" + std::to_string(k);
    if (used.insert(c).second) return c;
  }
}

// ---------------------------------------------------------------- tensors

DType Importer::tdtype(int t) const {
  const int type = tensor(t).get<int8_t>(tensor::type, kFloat32);
  switch (type) {
    case kFloat32: return DType::f32;
    case kFloat16: return DType::f16;
    case kInt32: return DType::i32;
    case kUInt8: return DType::u8;
    case kInt64: return DType::i64;
    case kBool: return DType::boolean;
    case kInt8: return DType::i8;
  }
  static const char* const names[] = {"float32", "float16", "int32", "uint8", "int64", "string", "bool",
                                      "int16",   "complex64", "int8", "float64"};
  std::string tn = type >= 0 && type <= 10 ? names[type] : "type " + std::to_string(type);
  fail("tensor '" + tname(t) + "' has unsupported element type " + tn);
}

Shape Importer::tshape(int t) const {
  Shape s;
  for (int32_t d : tensor(t).list<int32_t>(tensor::shape)) {
    if (d < 0) fail("tensor '" + tname(t) + "' has a negative dimension " + std::to_string(d));
    s.push_back(d);
  }
  if (s.size() > 8) fail("tensor '" + tname(t) + "' has rank " + std::to_string(s.size()) + " (at most 8 supported)");
  uint64_t n = 1;  // guard against overflow and absurd allocations
  for (int64_t d : s)
    if (d && (n *= uint64_t(d)) > (uint64_t(1) << 32))
      fail("tensor '" + tname(t) + "' " + shape_str(s) + " is too large");
  return s;
}

QuantParams Importer::tquant(int t, const Shape& shape) const {
  QuantParams q;
  TableRef qp = tensor(t).sub(tensor::quantization);
  if (!qp) return q;
  auto scale = qp.list<float>(quant::scale);
  auto zp = qp.list<int64_t>(quant::zero_point);
  if (scale.empty() && zp.empty()) return q;  // min/max only (float tensors): nothing to represent
  const std::string who = "tensor '" + tname(t) + "' " + shape_str(shape);
  if (scale.size() != zp.size())
    fail(who + ": quantization has " + std::to_string(scale.size()) + " scales but " + std::to_string(zp.size()) +
         " zero points");
  const int qd = qp.get<int32_t>(quant::quantized_dimension, 0);
  if (scale.size() > 1) {
    if (qd < 0 || size_t(qd) >= shape.size())
      fail(who + ": quantized_dimension " + std::to_string(qd) + " is out of range for rank " +
           std::to_string(shape.size()));
    if (int64_t(scale.size()) != shape[qd])
      fail(who + ": per-channel quantization has " + std::to_string(scale.size()) + " scales but dimension " +
           std::to_string(qd) + " has " + std::to_string(shape[qd]) + " channels");
    q.axis = qd;
  }
  for (size_t i = 0; i < scale.size(); ++i) {
    if (!std::isfinite(scale[i]) || scale[i] < 0)
      fail(who + ": invalid quantization scale " + std::to_string(scale[i]) + " at index " + std::to_string(i));
    if (zp[i] < std::numeric_limits<int32_t>::min() || zp[i] > std::numeric_limits<int32_t>::max())
      fail(who + ": zero point " + std::to_string(zp[i]) + " out of range");
  }
  const DType dt = tdtype(t);
  for (int64_t z : zp) {
    if ((dt == DType::i8 && (z < -128 || z > 127)) || (dt == DType::u8 && (z < 0 || z > 255)))
      fail(who + ": zero point " + std::to_string(z) + " does not fit " + dtype_name(dt));
  }
  q.scale = scale;
  q.zero_point.assign(zp.begin(), zp.end());
  return q;
}

void Importer::check_index(int t, const char* what) const {
  if (t < 0 || size_t(t) >= names_.size())
    fail(op_context_ + what + " tensor index " + std::to_string(t) + " is out of range (subgraph has " +
         std::to_string(names_.size()) + " tensors)");
}

bool Importer::has_data(int t) const {
  const uint32_t b = tensor(t).get<uint32_t>(tensor::buffer, 0);
  const size_t nbuf = model_.count(model::buffers);
  if (b >= nbuf)
    fail("tensor '" + tname(t) + "' refers to buffer " + std::to_string(b) + ", but the file has only " +
         std::to_string(nbuf) + " buffers");
  if (b == 0) return false;  // buffer 0 is the empty sentinel
  TableRef buf = model_.at(model::buffers, b);
  auto* d = buf.vec<uint8_t>(buffer::data);
  return (d && d->size() > 0) || buf.get<uint64_t>(buffer::offset, 0) > 1;
}

Tensor Importer::tdata(int t) const {
  const uint32_t b = tensor(t).get<uint32_t>(tensor::buffer, 0);
  TableRef buf = model_.at(model::buffers, b);
  const uint8_t* p = nullptr;
  size_t n = 0;
  if (auto* d = buf.vec<uint8_t>(buffer::data); d && d->size() > 0) {
    p = d->data();
    n = d->size();
  } else {
    // Large models keep buffers after the FlatBuffer: offset/size from the file start.
    const uint64_t off = buf.get<uint64_t>(buffer::offset, 0), sz = buf.get<uint64_t>(buffer::size, 0);
    if (off > size_ || sz > size_ - off)
      fail("tensor '" + tname(t) + "': buffer " + std::to_string(b) + " [offset " + std::to_string(off) + ", size " +
           std::to_string(sz) + "] lies outside the file (" + std::to_string(size_) + " bytes)");
    p = buf_ + off;
    n = size_t(sz);
  }
  const DType dt = tdtype(t);
  Shape shape = tshape(t);
  TableRef sp = tensor(t).sub(tensor::sparsity);
  Tensor out;
  if (sp) {
    out = densify(sp, dt, shape, p, n, "tensor '" + tname(t) + "'");
  } else {
    const int64_t count = numel(shape);
    if (uint64_t(count) * dtype_size(dt) != n)
      fail("tensor '" + tname(t) + "' " + shape_str(shape) + " " + dtype_name(dt) + " needs " +
           std::to_string(uint64_t(count) * dtype_size(dt)) + " bytes, but its buffer " + std::to_string(b) +
           " holds " + std::to_string(n));
    out = Tensor(dt, shape);
    if (n) std::memcpy(out.data(), p, n);
  }
  out.quant = tquant(t, shape);
  return out;
}

int Importer::val(int t) {
  check_index(t, "input");
  if (value_of_[t] >= 0) return value_of_[t];
  int id;
  if (has_data(t)) {
    id = g_.add_const(tname(t), tdata(t));
  } else {
    if (tensor(t).sub(tensor::sparsity)) fail("tensor '" + tname(t) + "' is sparse but has no data");
    Shape s = tshape(t);
    id = g_.add_value(tname(t), tdtype(t));
    g_.values[id].quant = tquant(t, s);
  }
  value_of_[t] = id;
  return id;
}

bool Importer::is_const(int t) const {
  check_index(t, "input");
  return value_of_[t] >= 0 ? g_.values[value_of_[t]].is_const() : has_data(t);
}

Tensor Importer::cval(int t) const { return value_of_[t] >= 0 ? g_.values[value_of_[t]].data : tdata(t); }

int Importer::out_val(int t) {
  check_index(t, "output");
  if (value_of_[t] >= 0) {
    const Value& v = g_.values[value_of_[t]];
    if (v.is_const() || v.producer >= 0 ||
        std::find(g_.inputs.begin(), g_.inputs.end(), value_of_[t]) != g_.inputs.end())
      fail(op_context_ + "output tensor '" + tname(t) + "' is already defined (a constant, a graph input or " +
           "the output of another operator)");
    return value_of_[t];
  }
  if (has_data(t)) fail(op_context_ + "output tensor '" + tname(t) + "' has constant data");
  int id = g_.add_value(tname(t), tdtype(t));
  g_.values[id].quant = tquant(t, tshape(t));
  value_of_[t] = id;
  return id;
}

int Importer::const_i64(const std::string& base, std::vector<int64_t> v, Shape shape) {
  if (shape.empty() && v.size() != 1) shape = {int64_t(v.size())};
  return g_.add_const(unique_in(used_names_, base), Tensor::from<int64_t>(shape, v));
}
int Importer::const_f32(const std::string& base, std::vector<float> v, Shape shape) {
  return g_.add_const(unique_in(used_names_, base), Tensor::from<float>(shape, v));
}
int Importer::temp(const std::string& base) { return g_.add_value(unique_in(used_names_, base)); }

int Importer::node(const std::string& op, std::vector<int> ins, std::vector<int> outs, Attrs a) {
  std::string base = outs.empty() ? op : g_.values[outs[0]].name;
  int id = g_.add_node(op, unique_in(used_names_, base), std::move(ins), std::move(outs), std::move(a));
  for (int o : g_.nodes[id].outputs) g_.values[o].producer = id;
  return id;
}

std::vector<int64_t> Importer::const_ints_of(int t, const char* what) const {
  if (t < 0) fail(op_context_ + "missing " + what + " input");
  if (!is_const(t)) fail(op_context_ + what + " tensor '" + tname(t) + "' must be a constant");
  Tensor d = cval(t);
  std::vector<int64_t> v(size_t(d.numel()));
  if (d.dtype() == DType::i32)
    for (size_t i = 0; i < v.size(); ++i) v[i] = d.data_as<int32_t>()[i];
  else if (d.dtype() == DType::i64)
    for (size_t i = 0; i < v.size(); ++i) v[i] = d.data_as<int64_t>()[i];
  else
    fail(op_context_ + what + " tensor '" + tname(t) + "' must be int32 or int64, not " + dtype_name(d.dtype()));
  return v;
}

// ---------------------------------------------------------------- helpers

// Permute a constant of any dtype: out.shape[k] = in.shape[perm[k]].
Tensor permute(const Tensor& in, const std::vector<int>& perm) {
  const int r = in.rank();
  Shape os(r);
  for (int k = 0; k < r; ++k) os[k] = in.shape()[perm[k]];
  Tensor out(in.dtype(), os);
  const size_t es = dtype_size(in.dtype());
  std::vector<int64_t> istride(r, 1);
  for (int k = r - 2; k >= 0; --k) istride[k] = istride[k + 1] * in.shape()[k + 1];
  std::vector<int64_t> idx(r, 0);
  const auto* src = static_cast<const uint8_t*>(in.data());
  auto* dst = static_cast<uint8_t*>(out.data());
  const int64_t n = out.numel();
  for (int64_t o = 0; o < n; ++o) {
    int64_t off = 0;
    for (int k = 0; k < r; ++k) off += idx[k] * istride[perm[k]];
    std::memcpy(dst + o * es, src + off * es, es);
    for (int k = r - 1; k >= 0; --k) {
      if (++idx[k] < os[k]) break;
      idx[k] = 0;
    }
  }
  out.quant = in.quant;
  if (in.quant.axis >= 0)
    for (int k = 0; k < r; ++k)
      if (perm[k] == in.quant.axis) out.quant.axis = k;
  return out;
}

TableRef Importer::options(TableRef op, const char* name, std::vector<FieldSpec> fields) {
  TableRef o = op.sub(op::builtin_options);
  if (!o) return o;  // absent: all defaults
  std::string what;
  if (!verify_table(*verifier_, o.raw(), options_spec(name, std::move(fields)), &what))
    fail(op_context_ + "corrupt " + std::string(name) + " table");
  return o;
}

void Importer::set_activation(Attrs& a, int code) const {
  switch (code) {
    case kActNone: return;
    case kActRelu: a.set("activation", std::string("relu")); return;
    case kActRelu6: a.set("activation", std::string("relu6")); return;
    case kActReluN1To1:
      a.set("activation", std::string("clip"));
      a.set("act_min", -1.0f);
      a.set("act_max", 1.0f);
      return;
    case kActTanh: a.set("activation", std::string("tanh")); return;
  }
  fail(op_context_ + "unsupported fused activation function " + std::to_string(code));
}

// TF padding -> explicit [top, left, bottom, right]; SAME puts the extra pixel
// at the bottom/right.
void Importer::conv_pads(Attrs& a, int padding, const Shape& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                         int64_t dh, int64_t dw) const {
  if (x.size() != 4) fail(op_context_ + "input must be 4-D NHWC, got " + shape_str(x));
  if (sh < 1 || sw < 1 || dh < 1 || dw < 1)
    fail(op_context_ + "strides and dilations must be >= 1 (got stride " + std::to_string(sh) + "x" +
         std::to_string(sw) + ", dilation " + std::to_string(dh) + "x" + std::to_string(dw) + ")");
  std::vector<int64_t> pads(4, 0);
  if (padding == kPadSame) {
    const int64_t in[2] = {x[1], x[2]}, k[2] = {(kh - 1) * dh + 1, (kw - 1) * dw + 1}, s[2] = {sh, sw};
    for (int i = 0; i < 2; ++i) {
      const int64_t o = (in[i] + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>(0, (o - 1) * s[i] + k[i] - in[i]);
      pads[i] = total / 2;
      pads[i + 2] = total - total / 2;
    }
  } else if (padding != kPadValid) {
    fail(op_context_ + "unknown padding type " + std::to_string(padding));
  }
  a.set("kernel_shape", std::vector<int64_t>{kh, kw});
  a.set("strides", std::vector<int64_t>{sh, sw});
  a.set("pads", pads);
  a.set("layout", std::string("NHWC"));
}

// TRANSPOSE_CONV and MediaPipe's Convolution2DTransposeBias: weights OHWI.
void Importer::transpose_conv(int x, int w, int bias, int padding, int64_t sh, int64_t sw, int act, int out) {
  const Shape xs = tshape(x), ws = tshape(w), os = tshape(out);
  if (xs.size() != 4 || ws.size() != 4 || os.size() != 4)
    fail(op_context_ + "input " + shape_str(xs) + ", weights " + shape_str(ws) + " and output " + shape_str(os) +
         " must be 4-D");
  if (!is_const(w)) fail(op_context_ + "weights '" + tname(w) + "' must be a constant");
  if (ws[3] != xs[3])
    fail(op_context_ + "weights '" + tname(w) + "' " + shape_str(ws) + " do not match the " + std::to_string(xs[3]) +
         " input channels of '" + tname(x) + "'");
  if (sh < 1 || sw < 1) fail(op_context_ + "strides must be >= 1");
  Attrs a;
  const int64_t k[2] = {ws[1], ws[2]}, s[2] = {sh, sw}, in[2] = {xs[1], xs[2]}, o[2] = {os[1], os[2]};
  std::vector<int64_t> pads(4, 0), opad(2, 0);
  for (int i = 0; i < 2; ++i) {
    const int64_t full = (in[i] - 1) * s[i] + k[i];
    int64_t before = 0;
    if (padding == kPadSame) {
      const int64_t total = std::max<int64_t>(0, (in[i] - 1) * s[i] + k[i] - o[i]);
      before = total / 2;
    } else if (padding != kPadValid) {
      fail(op_context_ + "unknown padding type " + std::to_string(padding));
    }
    int64_t after = full - o[i] - before;
    if (after < 0) {
      opad[i] = -after;
      after = 0;
    }
    pads[i] = before;
    pads[i + 2] = after;
  }
  a.set("kernel_shape", std::vector<int64_t>{k[0], k[1]});
  a.set("strides", std::vector<int64_t>{sh, sw});
  a.set("pads", pads);
  if (opad[0] || opad[1]) a.set("output_padding", opad);
  a.set("layout", std::string("NHWC"));
  set_activation(a, act);
  const int wv = g_.add_const(unique_in(used_names_, tname(w) + "_iohw"), permute(cval(w), {3, 0, 1, 2}));
  std::vector<int> ins{val(x), wv};
  if (bias >= 0) ins.push_back(val(bias));
  node("ConvTranspose", ins, {out_val(out)}, a);
}

// ---------------------------------------------------------------- ops

void Importer::import_op(size_t index) {
  TableRef op = sg_.at(subgraph::operators, index);
  const uint32_t oc = op.get<uint32_t>(op::opcode_index, 0);
  if (oc >= opcodes_.size())
    fail("operator " + std::to_string(index) + ": opcode index " + std::to_string(oc) + " is out of range (" +
         std::to_string(opcodes_.size()) + " operator codes)");
  const OpInfo& info = opcodes_[oc];
  auto in = op.list<int32_t>(op::inputs);
  auto out = op.list<int32_t>(op::outputs);
  std::vector<int> ins(in.begin(), in.end()), outs(out.begin(), out.end());
  for (int t : ins)
    if (t != -1) check_index(t, "input");
  for (int t : outs) check_index(t, "output");
  if (outs.empty()) fail("operator " + std::to_string(index) + " (" + info.name() + ") has no outputs");
  op_context_ = "operator " + std::to_string(index) + " " + info.name() + " (version " +
                std::to_string(info.version) + ") producing tensor '" + tname(outs[0]) + "': ";
  // Quantized operators (int8/uint8 activations) are imported in their QDQ
  // form: DequantizeLinear on quantized inputs and constants, the float
  // operator, QuantizeLinear into the quantized output; the fuse_qdq pass
  // turns that back into one int8 operator where there is an int8 kernel.
  const bool qdq = info.code != QUANTIZE && info.code != DEQUANTIZE && info.code != DENSIFY;
  std::vector<std::pair<int, int>> qins;  // tensor, its quantized value
  std::vector<int> qouts;
  if (qdq) {
    for (int t : ins)
      if (t >= 0 && !is_const(t) && quantized_tensor(t) &&
          std::find_if(qins.begin(), qins.end(), [&](auto& p) { return p.first == t; }) == qins.end()) {
        const int q = val(t);
        qins.push_back({t, q});
        value_of_[t] = dequantized(q);
      }
    for (int t : outs)
      if (value_of_[t] < 0 && !has_data(t) && quantized_tensor(t)) {
        value_of_[t] = temp(tname(t) + "_float");
        qouts.push_back(t);
      }
  }
  const size_t first_node = g_.nodes.size();
  if (info.code == CUSTOM)
    map_custom(info, op.vec<uint8_t>(op::custom_options), ins, outs);
  else
    map_builtin(info, op, ins, outs);
  if (!qdq) return;
  for (auto& [t, q] : qins) value_of_[t] = q;
  for (int t : qouts) {
    const int f = value_of_[t];
    const int q = g_.add_value(tname(t), tdtype(t));
    g_.values[q].quant = tquant(t, tshape(t));
    value_of_[t] = q;
    node("QuantizeLinear", {f, qparam_scale(g_.values[q]), qparam_zp(g_.values[q])}, {q});
  }
  for (size_t i = first_node; i < g_.nodes.size(); ++i) {
    if (g_.nodes[i].op == "QuantizeLinear" || g_.nodes[i].op == "DequantizeLinear") continue;
    for (int& v : g_.nodes[i].inputs) {
      if (v < 0) continue;
      const Value& c = g_.values[v];
      if (c.is_const() && !c.quant.empty() &&
          (c.dtype == DType::i8 || c.dtype == DType::u8 || c.dtype == DType::i32))
        v = dequantized(v);
    }
  }
}

bool Importer::quantized_tensor(int t) const {
  const DType d = tdtype(t);
  return (d == DType::i8 || d == DType::u8) && !tquant(t, tshape(t)).empty();
}

int Importer::qparam_scale(const Value& v) {
  const QuantParams& q = v.quant;
  return q.axis >= 0 ? const_f32(v.name + "_scale", q.scale, {int64_t(q.scale.size())})
                     : const_f32(v.name + "_scale", {q.scale[0]});
}

int Importer::qparam_zp(const Value& v) {
  const QuantParams& q = v.quant;
  Tensor z(v.dtype, q.axis >= 0 ? Shape{int64_t(q.zero_point.size())} : Shape{});
  for (size_t i = 0; i < size_t(z.numel()); ++i) {
    if (v.dtype == DType::i8) z.data_as<int8_t>()[i] = int8_t(q.zero_point[i]);
    else if (v.dtype == DType::u8) z.data_as<uint8_t>()[i] = uint8_t(q.zero_point[i]);
    else z.data_as<int32_t>()[i] = q.zero_point[i];
  }
  return g_.add_const(unique_in(used_names_, v.name + "_zero_point"), std::move(z));
}

// DequantizeLinear of a quantized value (made once per value).
int Importer::dequantized(int v) {
  auto it = dequantized_.find(v);
  if (it != dequantized_.end()) return it->second;
  const Value& x = g_.values[v];
  Attrs a;
  if (x.quant.axis >= 0) a.set("axis", int64_t(x.quant.axis));
  const int s = qparam_scale(x), z = qparam_zp(g_.values[v]);
  const int f = temp(g_.values[v].name + "_dequantized");
  node("DequantizeLinear", {v, s, z}, {f}, a);
  dequantized_[v] = f;
  return f;
}

void Importer::map_custom(const OpInfo& info, const flatbuffers::Vector<uint8_t>* copts, const std::vector<int>& in,
                          const std::vector<int>& out) {
  if (info.custom == "Convolution2DTransposeBias") {
    if (in.size() < 3 || out.size() != 1) fail(op_context_ + "expects 3 inputs (input, weights, bias) and 1 output");
    if (!copts || copts->size() < 12)
      fail(op_context_ + "custom options must hold 12 bytes (padding, stride_w, stride_h), got " +
           std::to_string(copts ? copts->size() : 0));
    int32_t p[3];
    std::memcpy(p, copts->data(), 12);
    // TfLitePadding: 1 = SAME, 2 = VALID.
    int padding = p[0] == 1 ? kPadSame : p[0] == 2 ? kPadValid : -1;
    if (padding < 0) fail(op_context_ + "unknown padding value " + std::to_string(p[0]) + " in custom options");
    transpose_conv(in[0], in[1], in[2], padding, p[2], p[1], kActNone, out[0]);
    return;
  }
  fail(op_context_ + "unsupported custom operator");
}

void Importer::map_builtin(const OpInfo& info, TableRef op, const std::vector<int>& in, const std::vector<int>& out) {
  auto need = [&](size_t n_in) {
    if (in.size() < n_in) fail(op_context_ + "expects at least " + std::to_string(n_in) + " inputs, got " +
                               std::to_string(in.size()));
    for (size_t i = 0; i < n_in; ++i)
      if (in[i] < 0) fail(op_context_ + "required input " + std::to_string(i) + " is missing");
  };
  auto opt_in = [&](size_t i) { return i < in.size() ? in[i] : -1; };
  const int y = out[0];
  Attrs a;
  switch (info.code) {
    case CONV_2D: {
      need(2);
      TableRef o = options(op, "Conv2DOptions", {{0, K::s8}, {1, K::s32}, {2, K::s32}, {3, K::s8}, {4, K::s32}, {5, K::s32}});
      const Shape xs = tshape(in[0]), ws = tshape(in[1]);
      if (ws.size() != 4 || ws[0] <= 0 || ws[1] <= 0 || ws[2] <= 0 || ws[3] <= 0)
        fail(op_context_ + "weights '" + tname(in[1]) + "' must be 4-D OHWI with positive dimensions, got " +
             shape_str(ws));
      if (!is_const(in[1])) fail(op_context_ + "weights '" + tname(in[1]) + "' must be a constant");
      if (xs.size() != 4 || xs[3] % ws[3] != 0)
        fail(op_context_ + "input '" + tname(in[0]) + "' " + shape_str(xs) + " does not match weights " + shape_str(ws));
      const int64_t dw = o.get<int32_t>(4, 1), dh = o.get<int32_t>(5, 1);
      conv_pads(a, o.get<int8_t>(0, kPadSame), xs, ws[1], ws[2], o.get<int32_t>(2, 0), o.get<int32_t>(1, 0), dh, dw);
      a.set("dilations", std::vector<int64_t>{dh, dw});
      a.set("group", xs[3] / ws[3]);
      set_activation(a, o.get<int8_t>(3, 0));
      const int wv = g_.add_const(unique_in(used_names_, tname(in[1]) + "_oihw"), permute(cval(in[1]), {0, 3, 1, 2}));
      std::vector<int> ins{val(in[0]), wv};
      if (opt_in(2) >= 0) ins.push_back(val(in[2]));
      node("Conv", ins, {out_val(y)}, a);
      return;
    }
    case DEPTHWISE_CONV_2D: {
      need(2);
      TableRef o = options(op, "DepthwiseConv2DOptions",
                           {{0, K::s8}, {1, K::s32}, {2, K::s32}, {3, K::s32}, {4, K::s8}, {5, K::s32}, {6, K::s32}});
      const Shape xs = tshape(in[0]), ws = tshape(in[1]);
      if (ws.size() != 4 || ws[0] != 1)
        fail(op_context_ + "weights '" + tname(in[1]) + "' must be [1,kh,kw,C*m], got " + shape_str(ws));
      if (!is_const(in[1])) fail(op_context_ + "weights '" + tname(in[1]) + "' must be a constant");
      if (xs.size() != 4 || xs[3] == 0 || ws[3] % xs[3] != 0)
        fail(op_context_ + "input '" + tname(in[0]) + "' " + shape_str(xs) + " does not match depthwise weights " +
             shape_str(ws));
      const int64_t mult = ws[3] / xs[3], dm = o.get<int32_t>(3, 0);
      if (dm > 0 && dm != mult)
        fail(op_context_ + "depth_multiplier " + std::to_string(dm) + " does not match weights " + shape_str(ws) +
             " for " + std::to_string(xs[3]) + " input channels");
      const int64_t dw = o.get<int32_t>(5, 1), dh = o.get<int32_t>(6, 1);
      conv_pads(a, o.get<int8_t>(0, kPadSame), xs, ws[1], ws[2], o.get<int32_t>(2, 0), o.get<int32_t>(1, 0), dh, dw);
      a.set("dilations", std::vector<int64_t>{dh, dw});
      a.set("group", xs[3]);
      set_activation(a, o.get<int8_t>(4, 0));
      const int wv = g_.add_const(unique_in(used_names_, tname(in[1]) + "_oihw"), permute(cval(in[1]), {3, 0, 1, 2}));
      std::vector<int> ins{val(in[0]), wv};
      if (opt_in(2) >= 0) ins.push_back(val(in[2]));
      node("Conv", ins, {out_val(y)}, a);
      return;
    }
    case TRANSPOSE_CONV: {
      need(3);
      TableRef o = options(op, "TransposeConvOptions", {{0, K::s8}, {1, K::s32}, {2, K::s32}, {3, K::s8}});
      auto oshape = const_ints_of(in[0], "output_shape");
      if (Shape(oshape.begin(), oshape.end()) != tshape(y))
        fail(op_context_ + "output_shape " + shape_str(Shape(oshape.begin(), oshape.end())) +
             " differs from the output tensor's shape " + shape_str(tshape(y)));
      transpose_conv(in[2], in[1], opt_in(3), o.get<int8_t>(0, kPadSame), o.get<int32_t>(2, 0), o.get<int32_t>(1, 0),
                     o.get<int8_t>(3, 0), y);
      return;
    }
    case AVERAGE_POOL_2D:
    case MAX_POOL_2D: {
      need(1);
      TableRef o = options(op, "Pool2DOptions", {{0, K::s8}, {1, K::s32}, {2, K::s32}, {3, K::s32}, {4, K::s32}, {5, K::s8}});
      const int64_t fw = o.get<int32_t>(3, 0), fh = o.get<int32_t>(4, 0);
      if (fw < 1 || fh < 1) fail(op_context_ + "filter size must be >= 1");
      conv_pads(a, o.get<int8_t>(0, kPadSame), tshape(in[0]), fh, fw, o.get<int32_t>(2, 0), o.get<int32_t>(1, 0), 1, 1);
      if (info.code == AVERAGE_POOL_2D) a.set("count_include_pad", int64_t(0));
      set_activation(a, o.get<int8_t>(5, 0));
      node(info.code == AVERAGE_POOL_2D ? "AveragePool" : "MaxPool", {val(in[0])}, {out_val(y)}, a);
      return;
    }
    case FULLY_CONNECTED: {
      need(2);
      TableRef o = options(op, "FullyConnectedOptions", {{0, K::s8}, {1, K::s8}, {2, K::s8}, {3, K::s8}});
      if (o.get<int8_t>(1, 0) != 0) fail(op_context_ + "shuffled weights format is not supported");
      const Shape xs = tshape(in[0]), ws = tshape(in[1]);
      if (ws.size() != 2) fail(op_context_ + "weights '" + tname(in[1]) + "' must be 2-D [out, in], got " + shape_str(ws));
      const int64_t I = ws[1], O = ws[0];
      if (I == 0 || numel(xs) % I != 0)
        fail(op_context_ + "input '" + tname(in[0]) + "' " + shape_str(xs) + " does not divide into rows of " +
             std::to_string(I) + " (weights " + shape_str(ws) + ")");
      const bool keep = o.get<uint8_t>(2, 0) != 0;
      set_activation(a, o.get<int8_t>(0, 0));
      a.set("transB", int64_t(1));
      int x = val(in[0]);
      if (!(xs.size() == 2 && xs[1] == I)) {
        int r = temp(tname(in[0]) + "_2d");
        node("Reshape", {x, const_i64(tname(in[0]) + "_2d_shape", {-1, I})}, {r});
        x = r;
      }
      std::vector<int> ins{x, val(in[1])};
      if (opt_in(2) >= 0) ins.push_back(val(in[2]));
      const Shape ys = tshape(y);
      if (keep && xs.size() != 2) {
        int gemm = temp(tname(y) + "_2d");
        node("Gemm", ins, {gemm}, a);
        std::vector<int64_t> target(xs.begin(), xs.end() - 1);
        target.push_back(O);
        node("Reshape", {gemm, const_i64(tname(y) + "_shape", target)}, {out_val(y)});
      } else {
        node("Gemm", ins, {out_val(y)}, a);
      }
      return;
    }
    case ADD:
    case SUB:
    case MUL:
    case DIV: {
      need(2);
      TableRef o = options(op, "ArithmeticOptions", {{0, K::s8}});
      set_activation(a, o.get<int8_t>(0, 0));
      const char* name = info.code == ADD ? "Add" : info.code == SUB ? "Sub" : info.code == MUL ? "Mul" : "Div";
      node(name, {val(in[0]), val(in[1])}, {out_val(y)}, a);
      return;
    }
    case CONCATENATION: {
      need(1);
      TableRef o = options(op, "ConcatenationOptions", {{0, K::s32}, {1, K::s8}});
      a.set("axis", int64_t(o.get<int32_t>(0, 0)));
      set_activation(a, o.get<int8_t>(1, 0));
      std::vector<int> ins;
      for (int t : in) {
        if (t < 0) fail(op_context_ + "an input is missing");
        ins.push_back(val(t));
      }
      node("Concat", ins, {out_val(y)}, a);
      return;
    }
    case RESHAPE: {
      need(1);
      TableRef o = options(op, "ReshapeOptions", {{0, K::vec32}});
      std::vector<int64_t> shape;
      if (opt_in(1) >= 0 && is_const(in[1])) {
        shape = const_ints_of(in[1], "shape");
      } else if (o && o.has(0)) {
        for (int32_t d : o.list<int32_t>(0)) shape.push_back(d);
      } else {
        const Shape ys = tshape(y);  // computed shape input: the static output shape
        shape.assign(ys.begin(), ys.end());
      }
      node("Reshape", {val(in[0]), const_i64(tname(y) + "_shape", shape)}, {out_val(y)});
      return;
    }
    case SQUEEZE: {
      need(1);
      TableRef o = options(op, "SqueezeOptions", {{0, K::vec32}});
      auto dims = o.list<int32_t>(0);
      std::vector<int> ins{val(in[0])};
      if (!dims.empty()) ins.push_back(const_i64(tname(y) + "_axes", std::vector<int64_t>(dims.begin(), dims.end()),
                                                 {int64_t(dims.size())}));
      node("Squeeze", ins, {out_val(y)});
      return;
    }
    case PAD:
    case PADV2: {
      need(2);
      auto p = const_ints_of(in[1], "paddings");
      const size_t r = tshape(in[0]).size();
      if (p.size() != 2 * r)
        fail(op_context_ + "paddings has " + std::to_string(p.size()) + " values, expected " + std::to_string(2 * r) +
             " ([rank, 2])");
      std::vector<int64_t> pads(2 * r);
      for (size_t i = 0; i < r; ++i) {
        pads[i] = p[2 * i];
        pads[i + r] = p[2 * i + 1];
      }
      a.set("mode", std::string("constant"));
      std::vector<int> ins{val(in[0]), const_i64(tname(y) + "_pads", pads, {int64_t(2 * r)})};
      if (info.code == PADV2 && opt_in(2) >= 0) ins.push_back(val(in[2]));
      node("Pad", ins, {out_val(y)}, a);
      return;
    }
    case RESIZE_BILINEAR:
    case RESIZE_NEAREST_NEIGHBOR: {
      need(2);
      const bool bil = info.code == RESIZE_BILINEAR;
      TableRef o = bil ? options(op, "ResizeBilinearOptions", {{2, K::s8}, {3, K::s8}})
                       : options(op, "ResizeNearestNeighborOptions", {{0, K::s8}, {1, K::s8}});
      const bool align = o.get<uint8_t>(bil ? 2 : 0, 0) != 0, half = o.get<uint8_t>(bil ? 3 : 1, 0) != 0;
      if (align && half) fail(op_context_ + "align_corners and half_pixel_centers cannot both be set");
      auto size = const_ints_of(in[1], "size");
      const Shape xs = tshape(in[0]);
      if (size.size() != 2 || xs.size() != 4)
        fail(op_context_ + "needs a 4-D NHWC input and a [new_height, new_width] size, got " + shape_str(xs) +
             " and " + std::to_string(size.size()) + " values");
      a.set("mode", std::string(bil ? "linear" : "nearest"));
      a.set("coordinate_transformation_mode", std::string(align ? "align_corners" : half ? "half_pixel" : "asymmetric"));
      if (!bil) a.set("nearest_mode", std::string(align || half ? "round_prefer_ceil" : "floor"));
      a.set("layout", std::string("NHWC"));
      int sizes = const_i64(tname(y) + "_sizes", {xs[0], size[0], size[1], xs[3]}, {4});
      node("Resize", {val(in[0]), -1, -1, sizes}, {out_val(y)}, a);
      return;
    }
    case MEAN: {
      need(2);
      TableRef o = options(op, "ReducerOptions", {{0, K::s8}});
      auto axes = const_ints_of(in[1], "axis");
      a.set("axes", axes);
      a.set("keepdims", int64_t(o.get<uint8_t>(0, 0) != 0));
      node("ReduceMean", {val(in[0])}, {out_val(y)}, a);
      return;
    }
    case LOGISTIC: need(1); node("Sigmoid", {val(in[0])}, {out_val(y)}); return;
    case TANH: need(1); node("Tanh", {val(in[0])}, {out_val(y)}); return;
    case HARD_SWISH: need(1); node("HardSwish", {val(in[0])}, {out_val(y)}); return;
    case RELU: need(1); node("Relu", {val(in[0])}, {out_val(y)}); return;
    case RELU6:
    case RELU_N1_TO_1: {
      need(1);
      const float lo = info.code == RELU6 ? 0.f : -1.f, hi = info.code == RELU6 ? 6.f : 1.f;
      node("Clip", {val(in[0]), const_f32(tname(y) + "_min", {lo}), const_f32(tname(y) + "_max", {hi})}, {out_val(y)});
      return;
    }
    case LEAKY_RELU: {
      need(1);
      TableRef o = options(op, "LeakyReluOptions", {{0, K::s32}});
      a.set("alpha", o.get<float>(0, 0.f));
      node("LeakyRelu", {val(in[0])}, {out_val(y)}, a);
      return;
    }
    case PRELU: need(2); node("PRelu", {val(in[0]), val(in[1])}, {out_val(y)}); return;
    case SOFTMAX: {
      need(1);
      TableRef o = options(op, "SoftmaxOptions", {{0, K::s32}});
      const float beta = o.get<float>(0, 0.f);
      int x = val(in[0]);
      if (beta != 1.f) {
        int scaled = temp(tname(y) + "_scaled");
        node("Mul", {x, const_f32(tname(y) + "_beta", {beta})}, {scaled});
        x = scaled;
      }
      a.set("axis", int64_t(-1));
      node("Softmax", {x}, {out_val(y)}, a);
      return;
    }
    case DEPTH_TO_SPACE:
    case SPACE_TO_DEPTH: {
      need(1);
      TableRef o = options(op, info.code == DEPTH_TO_SPACE ? "DepthToSpaceOptions" : "SpaceToDepthOptions", {{0, K::s32}});
      const int64_t b = o.get<int32_t>(0, 0);
      if (b < 1) fail(op_context_ + "block_size must be >= 1, got " + std::to_string(b));
      a.set("blocksize", b);
      a.set("layout", std::string("NHWC"));
      if (info.code == DEPTH_TO_SPACE) a.set("mode", std::string("DCR"));
      node(info.code == DEPTH_TO_SPACE ? "DepthToSpace" : "SpaceToDepth", {val(in[0])}, {out_val(y)}, a);
      return;
    }
    case DEQUANTIZE:
    case DENSIFY: {
      need(1);
      const int x = in[0];
      if (is_const(x)) {  // fold at load: float16 / int8 weights -> float32, sparse -> dense
        check_index(y, "output");
        if (value_of_[y] >= 0) fail(op_context_ + "output tensor '" + tname(y) + "' is already defined");
        Tensor d = cval(x);
        const bool keep = info.code == DEQUANTIZE && keep_float16_ && d.dtype() == DType::f16;  // f32 in f16 bits
        if (info.code == DEQUANTIZE && !keep) d = dequantize(d, "tensor '" + tname(x) + "'");
        const DType folded = keep ? DType::f32 : d.dtype();
        if (tdtype(y) != folded)
          fail(op_context_ + "output tensor '" + tname(y) + "' is " + dtype_name(tdtype(y)) + " but the folded value is " +
               dtype_name(folded));
        if (tshape(y) != d.shape())
          fail(op_context_ + "output tensor '" + tname(y) + "' " + shape_str(tshape(y)) +
               " does not match its input's shape " + shape_str(d.shape()));
        if (info.code == DENSIFY) d.quant = tquant(y, d.shape());
        value_of_[y] = g_.add_const(tname(y), std::move(d));
        return;
      }
      if (info.code == DENSIFY) fail(op_context_ + "input '" + tname(x) + "' must be a constant sparse tensor");
      // Runtime dequantization (quantized models): DequantizeLinear.
      const Value xv = g_.values[val(x)];  // a copy (runtime value, no data): const_f32 below grows g_.values
      if (xv.dtype == DType::f16) {
        a.set("to", int64_t(1));  // ONNX FLOAT
        node("Cast", {val(x)}, {out_val(y)}, a);
        return;
      }
      if (xv.quant.empty() || xv.quant.axis >= 0)
        fail(op_context_ + "runtime input '" + tname(x) + "' needs per-tensor quantization parameters");
      int s = const_f32(tname(y) + "_scale", {xv.quant.scale[0]});
      Tensor z(xv.dtype, {});
      if (xv.dtype == DType::i8) z.data_as<int8_t>()[0] = int8_t(xv.quant.zero_point[0]);
      else if (xv.dtype == DType::u8) z.data_as<uint8_t>()[0] = uint8_t(xv.quant.zero_point[0]);
      else fail(op_context_ + "cannot dequantize a runtime " + dtype_name(xv.dtype) + " tensor");
      int zp = g_.add_const(unique_in(used_names_, tname(y) + "_zero_point"), z);
      node("DequantizeLinear", {val(x), s, zp}, {out_val(y)});
      return;
    }
    case QUANTIZE: {
      need(1);
      const int yv = out_val(y);
      const Value& v = g_.values[yv];
      if (v.quant.empty() || v.quant.axis >= 0 || (v.dtype != DType::i8 && v.dtype != DType::u8))
        fail(op_context_ + "output '" + tname(y) + "' must be int8/uint8 with per-tensor quantization");
      const float sc = v.quant.scale[0];
      const int32_t zpv = v.quant.zero_point[0];
      const DType dt = v.dtype;
      int s = const_f32(tname(y) + "_scale", {sc});
      Tensor z(dt, {});
      if (dt == DType::i8) z.data_as<int8_t>()[0] = int8_t(zpv);
      else z.data_as<uint8_t>()[0] = uint8_t(zpv);
      int zp = g_.add_const(unique_in(used_names_, tname(y) + "_zero_point"), z);
      int x = val(in[0]);
      if (g_.values[x].dtype != DType::f32 && !g_.values[x].quant.empty()) x = dequantized(x);  // requantize
      node("QuantizeLinear", {x, s, zp}, {yv});
      return;
    }
  }
  fail(op_context_ + "unsupported TFLite operator");
}

// ---------------------------------------------------------------- model

Graph Importer::run() {
  if (size_ < 8) fail("not a TFLite file (" + std::to_string(size_) + " bytes, too short)");
  if (std::memcmp(buf_ + 4, "TFL3", 4) != 0) fail("not a TFLite file (missing the 'TFL3' identifier)");
  if (size_ >= FLATBUFFERS_MAX_BUFFER_SIZE) fail("file too large for a FlatBuffer");
  Verifier::Options vopts;
  vopts.max_depth = 64;
  vopts.max_tables = 10'000'000;
  Verifier v(buf_, size_, vopts);
  verifier_ = &v;
  const uint32_t root = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(buf_);
  if (root % 4 != 0 || root > size_ - 4) fail("corrupt TFLite file: root table offset " + std::to_string(root) + " is out of range");
  const Table* rt = flatbuffers::GetRoot<Table>(buf_);
  std::string what;
  if (!verify_table(v, rt, model_spec(), &what))
    fail("corrupt or truncated TFLite file (FlatBuffer verification failed in a " + what + " table)");
  model_ = rt;
  const uint32_t version = model_.get<uint32_t>(model::version, 0);
  if (version != 3) fail("unsupported TFLite schema version " + std::to_string(version) + " (expected 3)");
  if (model_.count(model::subgraphs) == 0) fail("TFLite model has no subgraphs");
  sg_ = model_.at(model::subgraphs, 0);

  for (size_t i = 0; i < model_.count(model::operator_codes); ++i) {
    TableRef c = model_.at(model::operator_codes, i);
    OpInfo info;
    // builtin_code (int32) superseded deprecated_builtin_code (int8, capped at 127).
    info.code = std::max<int32_t>(c.get<int8_t>(opcode::deprecated_builtin_code, 0), c.get<int32_t>(opcode::builtin_code, 0));
    info.custom = c.str(opcode::custom_code);
    info.version = c.get<int32_t>(opcode::version, 1);
    opcodes_.push_back(info);
  }

  const size_t nt = sg_.count(subgraph::tensors);
  names_.resize(nt);
  value_of_.assign(nt, -1);
  // Graph inputs/outputs keep their TFLite names exactly; others are made unique.
  auto io_in = sg_.list<int32_t>(subgraph::inputs), io_out = sg_.list<int32_t>(subgraph::outputs);
  for (auto* list : {&io_in, &io_out})
    for (int32_t t : *list)
      if (t < 0 || size_t(t) >= nt)
        fail("subgraph input/output tensor index " + std::to_string(t) + " is out of range (" + std::to_string(nt) +
             " tensors)");
  std::vector<bool> named(nt, false);
  for (auto* list : {&io_in, &io_out})
    for (int32_t t : *list)
      if (!named[t]) {
        names_[t] = unique_in(used_names_, sg_.at(subgraph::tensors, t).str(tensor::name));
        named[t] = true;
      }
  for (size_t t = 0; t < nt; ++t)
    if (!named[t]) names_[t] = unique_in(used_names_, sg_.at(subgraph::tensors, t).str(tensor::name));

  g_.name = sg_.str(subgraph::name).empty() ? "tflite" : sg_.str(subgraph::name);
  g_.source = file_;
  for (int32_t t : io_in) {
    if (has_data(t)) fail("graph input tensor '" + tname(t) + "' has constant data");
    int id = val(t);
    g_.values[id].shape = tshape(t);
    g_.values[id].shape_known = true;
    g_.inputs.push_back(id);
  }
  const size_t nops = sg_.count(subgraph::operators);
  for (size_t i = 0; i < nops; ++i) import_op(i);
  op_context_.clear();
  for (int32_t t : io_out) {
    int id = value_of_[t] >= 0 ? value_of_[t] : -1;
    if (id < 0) fail("graph output tensor '" + tname(t) + "' is produced by no operator");
    g_.outputs.push_back(id);
  }
  g_.relink();
  return std::move(g_);
}

}  // namespace

Graph import_tflite_bytes(const void* data, size_t size, const std::string& name, bool keep_float16) {
  if (!data && size) throw Error(name + ": null buffer");
  Importer imp(static_cast<const uint8_t*>(data), size, name, keep_float16);
  return imp.run();
}

Graph import_tflite(const std::string& path, bool keep_float16) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Error(path + ": cannot open TFLite file (" + std::strerror(errno) + ")");
  const std::streamoff n = f.tellg();
  if (n < 0) throw Error(path + ": cannot read TFLite file");
  // FlatBuffer tables need 4/8-byte alignment: read into 16-byte aligned storage.
  std::vector<uint64_t> storage((size_t(n) + 7) / 8 + 1);
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(storage.data()), n)) throw Error(path + ": cannot read TFLite file");
  return import_tflite_bytes(storage.data(), size_t(n), path, keep_float16);
}

}  // namespace ef
