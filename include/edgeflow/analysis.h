// Cost analysis: parameters, MACs, FLOPs and bytes per node and per model
// (cost.cc); this machine's roofs (machine.cc, microkernels.cc); per-layer
// roofline placement and the SVG plot (roofline.cc); the edge block
// comparison (blocks.cc).
#pragma once
#include <cstdint>
#include <functional>
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

// The arithmetic precision a node computes in, from the dtypes of its
// inputs in the (compiled) graph: "int8" (any i8/u8 operand), "fp16" (any
// f16 operand), else "fp32".
std::string compute_precision(const Graph& g, const Node& n);

// ---- this machine's roofs (edgeflow analyze --measure-machine)

// A measured rate on 1 thread and on `MachineRoofs::threads` threads; 0 = not
// measured (the CPU lacks the instructions).
struct Rate {
  double one = 0, all = 0;
};

struct MachineRoofs {
  std::string cpu;       // model name
  std::string isa;       // instruction sets the peaks used, e.g. "avx512f fma3 avx512vnni avx512bf16 avx512fp16"
  int threads = 1;       // threads of the "all" measurements
  // Peak arithmetic rates in GFLOP/s (int8: GOP/s, one MAC = 2 ops).
  Rate fp32, fp16, bf16, int8;
  // Streaming memory bandwidth in GB/s (1e9 bytes/s; STREAM counting: bytes
  // read + bytes written, no write-allocate traffic).
  Rate read, copy, triad;
  Rate cache_read;        // read bandwidth from a buffer half the size of L2 (optional)
  double buffer_mib = 0;  // footprint of the bandwidth buffers
  std::string measured;   // UTC time of the measurement
  double load = 0;        // Median (mean of the middle two for an even count); 0 for none.
double median_of(std::vector<double> v);
// 1-minute load average when measured

  // Roofs for a run on `threads` threads (linear between 1 and `threads`,
  // capped at the all-threads value). Precision "fp16"/"int8"/"bf16" falls
  // back to fp32 when that peak was not measured.
  double peak_gflops(const std::string& precision, int threads) const;
  double bandwidth_gbs(int threads) const;  // triad
  double cache_gbs(int threads) const;      // L2 read (0 if not measured)
};

// Measures this machine (a few seconds). `threads` <= 0: all hardware threads.
// `log` receives one line per measurement.
MachineRoofs measure_machine(int threads = 0, const std::function<void(const std::string&)>& log = {});

std::string machine_to_json(const MachineRoofs& m);
// Throws ef::Error naming `source` and the key at fault.
MachineRoofs machine_from_json(const std::string& text, const std::string& source);
void save_machine(const MachineRoofs& m, const std::string& path);  // creates parent directories
MachineRoofs load_machine(const std::string& path);
// Median (mean of the middle two for an even count); 0 for none.
double median_of(std::vector<double> v);
// 1-minute load average (/proc/loadavg; 0 where unknown): every number we report carries it.
double load_average();
// $XDG_CACHE_HOME/edgeflow/machine.json, else ~/.cache/edgeflow/machine.json.
std::string default_machine_cache();

// ---- roofline placement of one layer

struct RooflinePoint {
  std::string name, op, precision;
  NodeCost cost;
  double ms = 0;                    // measured latency per run
  double gflops = 0, gbs = 0;       // achieved: flops / time, bytes moved / time
  double peak_gflops = 0;           // compute roof at this precision and thread count
  double bandwidth_gbs = 0;         // memory roof
  double ridge = 0;                 // peak / bandwidth, FLOP/byte
  double attainable_gflops = 0;     // min(peak, intensity * bandwidth)
  bool memory_bound = false;        // intensity < ridge
  double pct_of_roof = 0;           // 100 * gflops / attainable
};
RooflinePoint place_on_roofline(const NodeCost& c, double ms, double peak_gflops, double bandwidth_gbs);

struct RooflinePlot {
  std::string title;
  std::vector<RooflinePoint> points;  // those without FLOPs or time are left out of the plot
  double bandwidth_gbs = 0;
  std::string bandwidth_label;        // e.g. "DRAM triad 11.2 GB/s"
  double cache_gbs = 0;               // optional second (dashed) diagonal: cache bandwidth
  std::string cache_label;
  struct Roof {
    std::string label;
    double gflops;
  };
  std::vector<Roof> roofs;            // one horizontal roof per precision
};
// A log-log SVG: roofs drawn and labelled, one <circle class="layer"> per
// plotted point labelled with its name, coloured by op type, legend, axes
// with units.
std::string roofline_svg(const RooflinePlot& plot);

// ---- edge block comparison (edgeflow analyze --compare-blocks)

struct EdgeBlock {
  std::string group;  // rows compared with each other
  std::string name;
  Graph graph;        // one input, one output, shapes inferred
};
// The blocks at their published sizes: 3x3 Conv+BN+ReLU (stride 1 and 2) vs a
// space-to-depth stem, Ghost convolution, partial convolution (FasterNet),
// a dense-feature block at 32->64 and 64->128 channels on an hw x hw input;
// PixelShuffle vs transposed-convolution upsampling of 128 channels at 8x8,
// 16x16 and 32x32.
std::vector<EdgeBlock> edge_blocks(int64_t hw = 64);

struct BlockMeasure {
  int64_t params = 0, macs = 0;  // of the block as built (BatchNorm counted)
  double median_ms = 0;          // compiled and optimized, median wall time of `runs`
  double median_cpu_ms = 0;      // median process CPU time per run (all threads; at 1 thread the
                                 // latency without the time other processes had the core)
  Shape in_shape, out_shape;
};
BlockMeasure measure_block(const EdgeBlock& b, int threads, int runs);

}  // namespace ef
