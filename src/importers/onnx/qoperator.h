// ONNX QOperator nodes (QLinearConv, QLinearMatMul and ONNX Runtime's
// com.microsoft QLinearAdd, QLinearMul, QLinearGlobalAveragePool,
// QLinearAveragePool, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat, QGemm)
// are imported in their QDQ form, DequantizeLinear -> float op ->
// QuantizeLinear, which the fuse_qdq pass turns into edgeflow's quantized
// operators: one path for QDQ and QOperator files.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "edgeflow/graph.h"

namespace ef {

bool is_qoperator(const std::string& op, const std::string& domain);

struct QOperatorSink {
  Graph& g;
  std::function<int(const std::string&)> new_value;             // a fresh runtime value
  std::function<int(const std::string&, Tensor)> new_const;      // a fresh constant
  std::function<std::string(const std::string&)> new_node_name;  // a unique node name
};

// Emits the QDQ form of one QOperator node; throws ef::Error naming the node
// when it is malformed. `ins` may hold -1 for omitted optional inputs.
void expand_qoperator(QOperatorSink& s, const std::string& op, const std::string& name, const std::vector<int>& ins,
                      const std::vector<int>& outs, Attrs attrs);

}  // namespace ef
