// Microphone-array geometry: presets and a small text/YAML-like file format.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "edgeflow/audio.h"

namespace ef::audio {

bool ArrayGeometry::linear() const {
  for (int i = 0; i < mics(); ++i)
    if (std::abs(y[i]) > 1e-9 || std::abs(z[i]) > 1e-9) return false;
  return true;
}

double ArrayGeometry::aperture() const {
  double a = 0;
  for (int i = 0; i < mics(); ++i)
    for (int j = i + 1; j < mics(); ++j)
      a = std::max(a, std::hypot(x[i] - x[j], y[i] - y[j], z[i] - z[j]));
  return a;
}

ArrayGeometry make_ula(int mics, double spacing, const std::string& name) {
  if (mics < 2) throw Error("array: a linear array needs at least 2 mics");
  if (!(spacing > 0.001 && spacing < 1.0))
    throw Error("array: --spacing " + std::to_string(spacing) + " m is outside 0.001..1 m (give metres, e.g. 0.04)");
  ArrayGeometry g;
  g.name = name.empty() ? "ula" + std::to_string(mics) : name;
  for (int i = 0; i < mics; ++i) {
    g.x.push_back((i - (mics - 1) / 2.0) * spacing);
    g.y.push_back(0);
    g.z.push_back(0);
  }
  return g;
}

namespace {
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
}  // namespace

ArrayGeometry parse_geometry(const std::string& text, const std::string& src) {
  ArrayGeometry g;
  g.name = src;
  std::istringstream in(text);
  std::string line;
  int ln = 0;
  auto fail = [&](const std::string& msg) { throw Error(src + ":" + std::to_string(ln) + ": " + msg); };
  while (std::getline(in, line)) {
    ++ln;
    if (auto h = line.find('#'); h != std::string::npos) line = line.substr(0, h);
    line = trim(line);
    if (line.empty()) continue;
    if (auto c = line.find(':'); c != std::string::npos && line[0] != '-') {
      std::string key = trim(line.substr(0, c)), val = trim(line.substr(c + 1));
      if (key == "name") g.name = val;
      else if (key == "mics" || key == "positions" || key == "microphones") {
        if (!val.empty() && val != "[]") fail("put one mic per line under '" + key + ":'");
      } else if (key == "units") {
        if (val != "m" && val != "metres" && val != "meters") fail("units must be metres ('m'), got '" + val + "'");
      } else {
        fail("unknown key '" + key + "' (expected name, units, mics)");
      }
      continue;
    }
    std::string s = line;
    if (s[0] == '-') s = trim(s.substr(1));
    if (!s.empty() && s.front() == '[') {
      if (s.back() != ']') fail("missing ']' in '" + line + "'");
      s = s.substr(1, s.size() - 2);
    }
    std::replace(s.begin(), s.end(), ',', ' ');
    std::istringstream ns(s);
    std::vector<double> v;
    std::string tok;
    while (ns >> tok) {
      try {
        size_t used = 0;
        double d = std::stod(tok, &used);
        if (used != tok.size() || !std::isfinite(d)) throw std::invalid_argument(tok);
        v.push_back(d);
      } catch (const std::exception&) {
        fail("'" + tok + "' is not a number (mic positions are 'x y [z]' in metres)");
      }
    }
    if (v.size() < 2 || v.size() > 3) fail("a mic position needs 2 or 3 coordinates, got " + std::to_string(v.size()));
    for (double d : v)
      if (std::abs(d) > 2.0) fail("coordinate " + std::to_string(d) + " m is farther than 2 m from the array centre (units are metres)");
    g.x.push_back(v[0]);
    g.y.push_back(v[1]);
    g.z.push_back(v.size() > 2 ? v[2] : 0.0);
  }
  ln = 0;
  if (g.mics() < 2) throw Error(src + ": an array needs at least 2 microphones, found " + std::to_string(g.mics()));
  if (g.mics() > 64) throw Error(src + ": at most 64 microphones supported, found " + std::to_string(g.mics()));
  for (int i = 0; i < g.mics(); ++i) {
    if (std::abs(g.z[i]) > 1e-6) throw Error(src + ": mic " + std::to_string(i) + " has z != 0; only planar arrays (z = 0) are supported");
    for (int j = i + 1; j < g.mics(); ++j)
      if (std::hypot(g.x[i] - g.x[j], g.y[i] - g.y[j]) < 1e-4)
        throw Error(src + ": mics " + std::to_string(i) + " and " + std::to_string(j) + " are at the same position");
  }
  return g;
}

ArrayGeometry load_geometry(const std::string& spec, double spacing) {
  if (spec == "ula8") return make_ula(8, spacing, "ula8");
  if (spec == "ula4") return make_ula(4, spacing, "ula4");
  std::ifstream f(spec);
  if (!f) throw Error("array: '" + spec + "' is neither a preset (ula8, ula4) nor a readable geometry file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_geometry(ss.str(), spec);
}

}  // namespace ef::audio
