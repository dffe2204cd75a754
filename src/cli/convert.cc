// edgeflow convert IN.tflite|IN.onnx OUT.onnx
//
// Imports the model (TFLite graphs stay NHWC), binds input shapes (dynamic
// dimensions from --shape, else 1), runs shape inference with constant
// folding, and writes ONNX (opset 13) with the ONNX exporter, which puts
// Transposes around NHWC spatial ops and splits fused activations so that
// ONNX Runtime runs the file as is. No optimization or layout pass runs.
#include <cstdio>

#include "cli/commands.h"
#include "cli/util.h"
#include "edgeflow/session.h"
#include "exporters/onnx/onnx_exporter.h"
#include "runtime/kernel.h"

namespace ef::cli {
namespace {

struct ConvertArgs {
  std::string in, out;
  std::vector<std::string> shapes;
  bool no_fold = false;
};

int convert(const ConvertArgs& a) {
  if (a.out.size() < 5 || a.out.substr(a.out.size() - 5) != ".onnx")
    throw Error(a.out + ": output file must end in .onnx");
  Model m = Model::load(a.in);
  Graph g = m.graph();
  for (auto& [name, dims] : parse_pairs(a.shapes, "--shape")) {
    const Shape s = parse_shape(dims, "--shape " + name);
    bool found = false;
    for (int v : g.inputs)
      if (g.values[v].name == name) {
        Value& val = g.values[v];
        if (!val.shape.empty() && val.shape.size() != s.size())
          throw Error(a.in + ": input '" + name + "' has rank " + std::to_string(val.shape.size()) +
                      ", cannot set shape " + shape_str(s));
        val.shape = s;
        found = true;
      }
    if (!found) throw Error(a.in + ": no input named '" + name + "' (--shape)");
  }
  for (int v : g.inputs) {
    for (auto& d : g.values[v].shape)
      if (d < 0) d = 1;
    g.values[v].shape_known = true;
  }
  ConstEvaluator eval = evaluate_node;
  int folded = 0;
  infer_shapes(g, a.no_fold ? nullptr : &eval, &folded);
  g.compact();
  export_onnx(g, a.out);
  std::printf("%s (%s, %zu nodes) -> %s", a.in.c_str(), m.format().c_str(), m.graph().nodes.size(), a.out.c_str());
  if (folded) std::printf(" (%d nodes folded to constants)", folded);
  std::printf("\n");
  return 0;
}

}  // namespace

void add_convert(CLI::App& app, Action& action) {
  auto a = std::make_shared<ConvertArgs>();
  auto* cmd = app.add_subcommand("convert", "Convert a .tflite or .onnx model to ONNX (opset 13) for other runtimes");
  cmd->add_option("input", a->in, "Input model (.tflite or .onnx)")->required();
  cmd->add_option("output", a->out, "Output .onnx file")->required();
  cmd->add_option("--shape", a->shapes, "Input shape for dynamic dimensions, NAME=1x3x224x224 (repeatable)");
  cmd->add_flag("--no-fold", a->no_fold, "Do not fold constant subgraphs");
  cmd->callback([&action, a] { action = [a] { return convert(*a); }; });
}

}  // namespace ef::cli
