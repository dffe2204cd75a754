// Per-layer delta gate thresholds as a text file ("layer threshold" a line).
#include <cmath>
#include <fstream>
#include <sstream>

#include "edgeflow/session.h"

namespace ef {

std::map<std::string, float> load_delta_layer_thresholds(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open the layer thresholds file");
  std::map<std::string, float> t;
  std::string line;
  for (int no = 1; std::getline(f, line); ++no) {
    if (auto h = line.find('#'); h != std::string::npos) line.resize(h);
    std::istringstream in(line);
    std::string name, rest;
    float v = 0;
    if (!(in >> name)) continue;  // blank or comment
    if (!(in >> v) || (in >> rest) || !std::isfinite(v) || v < 0)
      throw Error(path + ":" + std::to_string(no) + ": expected 'layer threshold' with a threshold >= 0, got '" + line + "'");
    t[name] = v;
  }
  return t;
}

void save_delta_layer_thresholds(const std::string& path, const std::map<std::string, float>& t) {
  std::ofstream f(path);
  f << "# delta gate threshold per convolution (edgeflow bench --calibrate --per-layer)\n";
  for (auto& [name, v] : t) f << name << ' ' << v << '\n';
  if (!f) throw Error(path + ": cannot write the layer thresholds file");
}

}  // namespace ef
