// edgeflow in 15 lines: load a model, compile it, run it, print the argmax.
#include <edgeflow/npy.h>
#include <edgeflow/session.h>

#include <algorithm>
#include <cstdio>

int main(int argc, char** argv) try {
  if (argc < 2) return std::fprintf(stderr, "usage: %s model.onnx [input.npy]\n", argv[0]), 2;
  ef::Model model = ef::Model::load(argv[1]);
  ef::Session session(model, {.threads = 2});
  ef::Tensor x = argc > 2 ? ef::load_npy(argv[2]) : ef::Tensor(ef::DType::f32, session.input_info(0).shape);
  const ef::Tensor& y = session.run({x})[0];  // no allocation on later runs
  const float* p = y.data_as<float>();
  long best = std::max_element(p, p + y.numel()) - p;
  std::printf("argmax %ld of %lld (score %g)\n", best, (long long)y.numel(), p[best]);
} catch (const ef::Error& e) {
  return std::fprintf(stderr, "error: %s\n", e.what()), 1;
}
