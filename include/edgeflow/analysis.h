// Cost model: parameters, MACs, FLOPs and bytes per node and per model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "edgeflow/graph.h"

namespace ef {

struct NodeCost {
  int64_t params = 0;        // learnable parameters (BatchNorm: scale and shift only)
  int64_t macs = 0;          // multiply-accumulates (Conv, ConvTranspose, Gemm, MatMul)
  int64_t flops = 0;         // 2*macs + elementwise/pooling/normalisation work
  int64_t weight_bytes = 0;  // constant inputs, at their stored dtype
  int64_t in_bytes = 0;      // runtime inputs read
  int64_t out_bytes = 0;     // outputs written
  int64_t bytes_moved() const { return weight_bytes + in_bytes + out_bytes; }
  double intensity() const { return bytes_moved() ? double(flops) / double(bytes_moved()) : 0.0; }
};

// Requires shapes (run infer_shapes first).
NodeCost node_cost(const Graph& g, const Node& n);

struct ModelCost {
  NodeCost total;
  std::vector<NodeCost> nodes;  // parallel to g.nodes
};
ModelCost model_cost(const Graph& g);

// "3.50 M", "1.2 GB" style formatting for reports.
std::string human_count(double v);
std::string human_bytes(double v);

}  // namespace ef
