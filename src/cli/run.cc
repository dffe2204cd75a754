// edgeflow run MODEL --input NAME=x.npy ... | --image photo.jpg ... --out DIR
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/util.h"
#include "edgeflow/npy.h"

namespace ef::cli {

namespace {
struct RunArgs {
  std::string model;
  CommonOptions common;
  std::vector<std::string> inputs;
  ImageOptions image;
  std::string out;
  bool print = false;
};

std::string file_name_for(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return s.empty() ? "output" : s;
}

int run_model(RunArgs& a) {
  Model model = Model::load(a.model, to_load_options(a.common));
  Session s(model, to_compile_options(a.common));
  std::map<std::string, Tensor> feeds;
  for (auto& [name, path] : parse_pairs(a.inputs, "--input")) {
    if (s.input_index(name) < 0) {
      std::string have;
      for (size_t i = 0; i < s.num_inputs(); ++i) have += (i ? ", " : "") + s.input_info(i).name;
      throw Error("--input: the model has no input named '" + name + "' (inputs: " + have + ")");
    }
    feeds[name] = load_npy(path);
  }
  if (!a.image.path.empty()) {
    // The image feeds the first float input not given by --input.
    int target = -1;
    for (size_t i = 0; i < s.num_inputs() && target < 0; ++i)
      if (!feeds.count(s.input_info(i).name)) target = int(i);
    if (target < 0) throw Error("--image: every input is already given by --input");
    feeds[s.input_info(target).name] = image_tensor(a.image, s.input_info(target));
  }
  for (size_t i = 0; i < s.num_inputs(); ++i)
    if (!feeds.count(s.input_info(i).name))
      throw Error("missing input '" + s.input_info(i).name + "' (" + dtype_name(s.input_info(i).dtype) +
                  shape_str(s.input_info(i).shape) + "): give --input " + s.input_info(i).name + "=FILE.npy or --image");
  const auto& outs = s.run(feeds);
  if (!a.out.empty()) std::filesystem::create_directories(a.out);
  for (size_t i = 0; i < outs.size(); ++i) {
    const Value& info = s.output_info(i);
    std::printf("%s: %s%s", info.name.c_str(), dtype_name(outs[i].dtype()), shape_str(outs[i].shape()).c_str());
    if (!a.out.empty()) {
      std::string path = (std::filesystem::path(a.out) / (file_name_for(info.name) + ".npy")).string();
      save_npy(path, outs[i]);
      std::printf(" -> %s", path.c_str());
    }
    if (outs[i].dtype() == DType::f32 && outs[i].numel() > 0) {
      const float* d = outs[i].data_as<float>();
      int64_t n = outs[i].numel(), arg = 0;
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        sum += d[k];
        if (d[k] > d[arg]) arg = k;
      }
      std::printf("  (mean %.6g, max %.6g at %lld)", sum / double(n), d[arg], (long long)arg);
      if (a.print) {
        std::printf("\n  ");
        for (int64_t k = 0; k < std::min<int64_t>(n, 16); ++k) std::printf("%.6g ", d[k]);
      }
    }
    std::printf("\n");
  }
  return 0;
}
}  // namespace

void add_run(CLI::App& app, Action& action) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Run a model on .npy inputs or an image; write outputs as .npy");
  cmd->add_option("model", a->model, "Model file (.onnx or .tflite)")->required();
  add_common(cmd, a->common);
  cmd->add_option("--input", a->inputs, "NAME=FILE.npy (repeatable)");
  cmd->add_option("--image", a->image.path, "Image file for the (first remaining) input");
  add_image_options(cmd, a->image);
  cmd->add_option("--out", a->out, "Directory for the outputs (.npy per output)");
  cmd->add_flag("--print", a->print, "Print the first values of each output");
  cmd->callback([&action, a] { action = [a] { return run_model(*a); }; });
}

}  // namespace ef::cli
