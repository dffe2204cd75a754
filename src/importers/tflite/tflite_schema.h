// Minimal, hand-written accessors for the TFLite FlatBuffer format.
//
// Written from the documented layout of TensorFlow Lite's schema (schema
// version 3): each table's fields in declaration order, field id k living at
// vtable offset 4 + 2k. We do not use TensorFlow's schema.fbs or its generated
// code. Every table is checked with flatbuffers' Verifier (bounds, alignment,
// nesting) before it is read, so a corrupt file is an ef::Error, never a crash.
#pragma once
#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ef::tfl {

using flatbuffers::Table;
using flatbuffers::Verifier;

constexpr flatbuffers::voffset_t vt(int id) { return flatbuffers::voffset_t(4 + 2 * id); }

// ---- field ids (declaration order in the TFLite schema) ----
namespace model {  // table Model
enum { version = 0, operator_codes = 1, subgraphs = 2, description = 3, buffers = 4 };
}
namespace opcode {  // table OperatorCode
enum { deprecated_builtin_code = 0, custom_code = 1, version = 2, builtin_code = 3 };
}
namespace subgraph {  // table SubGraph
enum { tensors = 0, inputs = 1, outputs = 2, operators = 3, name = 4 };
}
namespace tensor {  // table Tensor
enum { shape = 0, type = 1, buffer = 2, name = 3, quantization = 4, is_variable = 5, sparsity = 6, shape_signature = 7 };
}
namespace quant {  // table QuantizationParameters
enum { min = 0, max = 1, scale = 2, zero_point = 3, details_type = 4, details = 5, quantized_dimension = 6 };
}
namespace sparsity {  // table SparsityParameters
enum { traversal_order = 0, block_map = 1, dim_metadata = 2 };
}
namespace dimmeta {  // table DimensionMetadata
enum { format = 0, dense_size = 1, array_segments_type = 2, array_segments = 3, array_indices_type = 4, array_indices = 5 };
}
namespace op {  // table Operator
enum { opcode_index = 0, inputs = 1, outputs = 2, builtin_options_type = 3, builtin_options = 4, custom_options = 5 };
}
namespace buffer {  // table Buffer
enum { data = 0, offset = 1, size = 2 };
}

// enum TensorType
enum TensorType : int8_t {
  kFloat32 = 0, kFloat16 = 1, kInt32 = 2, kUInt8 = 3, kInt64 = 4, kString = 5, kBool = 6,
  kInt16 = 7, kComplex64 = 8, kInt8 = 9, kFloat64 = 10,
};
// enum DimensionType (sparsity), union SparseIndexVector
enum { kDimDense = 0, kDimSparseCSR = 1 };
enum { kIdxNone = 0, kIdxInt32 = 1, kIdxUint16 = 2, kIdxUint8 = 3 };
// enum Padding, enum ActivationFunctionType
enum { kPadSame = 0, kPadValid = 1 };
enum { kActNone = 0, kActRelu = 1, kActReluN1To1 = 2, kActRelu6 = 3, kActTanh = 4, kActSignBit = 5 };

// enum BuiltinOperator (the ones we map; names for all in builtin_name()).
enum Builtin : int32_t {
  ADD = 0, AVERAGE_POOL_2D = 1, CONCATENATION = 2, CONV_2D = 3, DEPTHWISE_CONV_2D = 4, DEPTH_TO_SPACE = 5,
  DEQUANTIZE = 6, FULLY_CONNECTED = 9, LOGISTIC = 14, MAX_POOL_2D = 17, MUL = 18, RELU = 19, RELU_N1_TO_1 = 20,
  RELU6 = 21, RESHAPE = 22, RESIZE_BILINEAR = 23, SOFTMAX = 25, SPACE_TO_DEPTH = 26, TANH = 28, CUSTOM = 32,
  PAD = 34, MEAN = 40, SUB = 41, DIV = 42, SQUEEZE = 43, PRELU = 54, PADV2 = 60, TRANSPOSE_CONV = 67,
  RESIZE_NEAREST_NEIGHBOR = 97, LEAKY_RELU = 98, QUANTIZE = 114, HARD_SWISH = 117, DENSIFY = 124,
  PLACEHOLDER_FOR_GREATER_OP_CODES = 127,
};
// "CONV_2D" etc., or "BUILTIN_<n>" for codes we do not know by name.
std::string builtin_name(int32_t code);

// ---- a verified table, read field by field ----
class TableRef {
 public:
  TableRef(const Table* t = nullptr) : t_(t) {}
  explicit operator bool() const { return t_ != nullptr; }
  const Table* raw() const { return t_; }
  bool has(int id) const { return t_ && t_->CheckField(vt(id)); }
  template <class V> V get(int id, V def) const { return t_ ? t_->GetField<V>(vt(id), def) : def; }
  template <class V> const flatbuffers::Vector<V>* vec(int id) const {
    return t_ ? t_->GetPointer<const flatbuffers::Vector<V>*>(vt(id)) : nullptr;
  }
  std::string str(int id) const {
    auto* s = t_ ? t_->GetPointer<const flatbuffers::String*>(vt(id)) : nullptr;
    return s ? s->str() : std::string();
  }
  TableRef sub(int id) const { return t_ ? t_->GetPointer<const Table*>(vt(id)) : nullptr; }
  size_t count(int id) const {
    auto* v = vec<flatbuffers::Offset<Table>>(id);
    return v ? v->size() : 0;
  }
  TableRef at(int id, size_t i) const { return vec<flatbuffers::Offset<Table>>(id)->Get(flatbuffers::uoffset_t(i)); }
  template <class V> std::vector<V> list(int id) const {  // vector of scalars, copied
    auto* v = vec<V>(id);
    std::vector<V> out;
    if (v) out.assign(v->begin(), v->end());
    return out;
  }

 private:
  const Table* t_;
};

// ---- verification specs: which fields of a table to check, and how ----
enum class FieldKind : uint8_t { s8, s16, s32, s64, str, vec8, vec16, vec32, vec64, table, tables, any_table };
struct TableSpec;
struct FieldSpec {
  int id;
  FieldKind kind;
  const TableSpec* sub = nullptr;  // for table / tables
};
struct TableSpec {
  const char* name;
  std::vector<FieldSpec> fields;
  // Extra checks (unions whose member type depends on a sibling field).
  bool (*extra)(Verifier&, const Table*) = nullptr;
};

// Verify one table (and, recursively, its sub-tables) against a spec. On
// failure, *what names the table that failed.
bool verify_table(Verifier& v, const Table* t, const TableSpec& spec, std::string* what);

// Specs of the tables the importer reads.
const TableSpec& model_spec();
// Builtin options tables: fields are all scalars or scalar vectors; a spec
// names the fields that the importer reads.
TableSpec options_spec(const char* name, std::vector<FieldSpec> fields);

}  // namespace ef::tfl
