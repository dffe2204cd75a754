#include "importers/tflite/tflite_schema.h"

namespace ef::tfl {

std::string builtin_name(int32_t code) {
  // enum BuiltinOperator, in value order.
  static const char* const kNames[] = {
      "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
      "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
      "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
      "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
      "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
      "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB",
      "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
      "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
      "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE",
      "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM",
      "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
      "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY",
      "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU",
      "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND",
      "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
      "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
      "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE",
      "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND",
      "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE",
      "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL",
      "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
      "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN"};
  constexpr int32_t n = int32_t(sizeof(kNames) / sizeof(kNames[0]));
  if (code >= 0 && code < n) return kNames[code];
  return "BUILTIN_" + std::to_string(code);
}

bool verify_table(Verifier& v, const Table* t, const TableSpec& spec, std::string* what) {
  auto fail = [&] {
    if (what && what->empty()) *what = spec.name;
    return false;
  };
  if (!t || !t->VerifyTableStart(v)) return fail();
  for (const FieldSpec& f : spec.fields) {
    const auto o = vt(f.id);
    bool ok = true;
    switch (f.kind) {
      case FieldKind::s8: ok = t->VerifyField<uint8_t>(v, o, 1); break;
      case FieldKind::s16: ok = t->VerifyField<uint16_t>(v, o, 2); break;
      case FieldKind::s32: ok = t->VerifyField<uint32_t>(v, o, 4); break;
      case FieldKind::s64: ok = t->VerifyField<uint64_t>(v, o, 8); break;
      case FieldKind::str:
        ok = t->VerifyOffset(v, o) && v.VerifyString(t->GetPointer<const flatbuffers::String*>(o));
        break;
      case FieldKind::vec8:
        ok = t->VerifyOffset(v, o) && v.VerifyVector(t->GetPointer<const flatbuffers::Vector<uint8_t>*>(o));
        break;
      case FieldKind::vec16:
        ok = t->VerifyOffset(v, o) && v.VerifyVector(t->GetPointer<const flatbuffers::Vector<uint16_t>*>(o));
        break;
      case FieldKind::vec32:
        ok = t->VerifyOffset(v, o) && v.VerifyVector(t->GetPointer<const flatbuffers::Vector<uint32_t>*>(o));
        break;
      case FieldKind::vec64:
        ok = t->VerifyOffset(v, o) && v.VerifyVector(t->GetPointer<const flatbuffers::Vector<uint64_t>*>(o));
        break;
      case FieldKind::any_table:  // offset only; the table is verified when it is read
        ok = t->VerifyOffset(v, o);
        break;
      case FieldKind::table: {
        ok = t->VerifyOffset(v, o);
        if (ok) {
          auto* s = t->GetPointer<const Table*>(o);
          ok = !s || verify_table(v, s, *f.sub, what);
        }
        break;
      }
      case FieldKind::tables: {
        ok = t->VerifyOffset(v, o);
        if (!ok) break;
        auto* vec = t->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<Table>>*>(o);
        ok = v.VerifyVector(vec);
        for (flatbuffers::uoffset_t i = 0; ok && vec && i < vec->size(); ++i)
          ok = verify_table(v, vec->Get(i), *f.sub, what);
        break;
      }
    }
    if (!ok) return fail();
  }
  if (spec.extra && !spec.extra(v, t)) return fail();
  return v.EndTable() || fail();
}

namespace {

using K = FieldKind;

// union SparseIndexVector { Int32Vector, Uint16Vector, Uint8Vector }: each a
// table with one field `values` (id 0).
bool verify_index_vector(Verifier& v, const Table* dm, int type_id, int value_id) {
  const uint8_t type = dm->GetField<uint8_t>(vt(type_id), 0);
  auto* t = dm->GetPointer<const Table*>(vt(value_id));
  if (!t) return true;
  FieldKind k;
  switch (type) {
    case kIdxInt32: k = K::vec32; break;
    case kIdxUint16: k = K::vec16; break;
    case kIdxUint8: k = K::vec8; break;
    default: return false;  // a vector without a known type
  }
  TableSpec s{"SparseIndexVector", {{0, k}}};
  return verify_table(v, t, s, nullptr);
}
bool verify_dim_metadata(Verifier& v, const Table* t) {
  return verify_index_vector(v, t, dimmeta::array_segments_type, dimmeta::array_segments) &&
         verify_index_vector(v, t, dimmeta::array_indices_type, dimmeta::array_indices);
}

}  // namespace

const TableSpec& model_spec() {
  static const TableSpec dim_meta{"DimensionMetadata",
                                  {{dimmeta::format, K::s8},
                                   {dimmeta::dense_size, K::s32},
                                   {dimmeta::array_segments_type, K::s8},
                                   {dimmeta::array_segments, K::any_table},
                                   {dimmeta::array_indices_type, K::s8},
                                   {dimmeta::array_indices, K::any_table}},
                                  verify_dim_metadata};
  static const TableSpec sparsity{"SparsityParameters",
                                  {{sparsity::traversal_order, K::vec32},
                                   {sparsity::block_map, K::vec32},
                                   {sparsity::dim_metadata, K::tables, &dim_meta}}};
  static const TableSpec quant{"QuantizationParameters",
                               {{quant::min, K::vec32},
                                {quant::max, K::vec32},
                                {quant::scale, K::vec32},
                                {quant::zero_point, K::vec64},
                                {quant::details_type, K::s8},
                                {quant::details, K::any_table},
                                {quant::quantized_dimension, K::s32}}};
  static const TableSpec tensor{"Tensor",
                                {{tensor::shape, K::vec32},
                                 {tensor::type, K::s8},
                                 {tensor::buffer, K::s32},
                                 {tensor::name, K::str},
                                 {tensor::quantization, K::table, &quant},
                                 {tensor::is_variable, K::s8},
                                 {tensor::sparsity, K::table, &sparsity},
                                 {tensor::shape_signature, K::vec32}}};
  static const TableSpec op{"Operator",
                            {{op::opcode_index, K::s32},
                             {op::inputs, K::vec32},
                             {op::outputs, K::vec32},
                             {op::builtin_options_type, K::s8},
                             {op::builtin_options, K::any_table},
                             {op::custom_options, K::vec8}}};
  static const TableSpec subgraph{"SubGraph",
                                  {{subgraph::tensors, K::tables, &tensor},
                                   {subgraph::inputs, K::vec32},
                                   {subgraph::outputs, K::vec32},
                                   {subgraph::operators, K::tables, &op},
                                   {subgraph::name, K::str}}};
  static const TableSpec opcode{"OperatorCode",
                                {{opcode::deprecated_builtin_code, K::s8},
                                 {opcode::custom_code, K::str},
                                 {opcode::version, K::s32},
                                 {opcode::builtin_code, K::s32}}};
  static const TableSpec buffer{"Buffer", {{buffer::data, K::vec8}, {buffer::offset, K::s64}, {buffer::size, K::s64}}};
  static const TableSpec model{"Model",
                               {{model::version, K::s32},
                                {model::operator_codes, K::tables, &opcode},
                                {model::subgraphs, K::tables, &subgraph},
                                {model::description, K::str},
                                {model::buffers, K::tables, &buffer}}};
  return model;
}

TableSpec options_spec(const char* name, std::vector<FieldSpec> fields) { return TableSpec{name, std::move(fields)}; }

}  // namespace ef::tfl
