// Roofline placement of a layer and the log-log SVG plot.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "edgeflow/analysis.h"

namespace ef {

RooflinePoint place_on_roofline(const NodeCost& c, double ms, double peak, double bw) {
  RooflinePoint p;
  p.cost = c;
  p.ms = ms;
  p.peak_gflops = peak;
  p.bandwidth_gbs = bw;
  p.ridge = bw > 0 ? peak / bw : 0;
  if (ms > 0) {
    p.gflops = double(c.flops) / (ms * 1e6);
    p.gbs = double(c.bytes_moved()) / (ms * 1e6);
  }
  const double oi = c.intensity();
  p.memory_bound = oi < p.ridge;
  p.attainable_gflops = std::min(peak, oi * bw);
  p.pct_of_roof = p.attainable_gflops > 0 ? 100.0 * p.gflops / p.attainable_gflops : 0;
  return p;
}

namespace {
std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&') o += "&amp;";
    else if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '"') o += "&quot;";
    else if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o;
}

std::string num(double v) {
  char b[32];
  if (v >= 100 || v == std::floor(v)) std::snprintf(b, sizeof b, "%.0f", v);
  else if (v >= 1) std::snprintf(b, sizeof b, "%.1f", v);
  else std::snprintf(b, sizeof b, "%.2g", v);
  return b;
}

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                          "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"};
}  // namespace

std::string roofline_svg(const RooflinePlot& plot) {
  std::vector<const RooflinePoint*> pts;
  std::vector<size_t> index;  // of each plotted point in plot.points (= the table's #)
  for (size_t i = 0; i < plot.points.size(); ++i) {
    const auto& p = plot.points[i];
    if (p.cost.flops > 0 && p.cost.bytes_moved() > 0 && p.ms > 0) pts.push_back(&p), index.push_back(i);
  }
  double peak_max = 0, peak_min = 1e300;
  for (auto& r : plot.roofs) peak_max = std::max(peak_max, r.gflops), peak_min = std::min(peak_min, r.gflops);
  if (plot.roofs.empty()) peak_max = peak_min = 1;
  const double bw = plot.bandwidth_gbs > 0 ? plot.bandwidth_gbs : 1;
  double xlo = peak_min / bw, xhi = peak_max / bw, ylo = peak_max, yhi = peak_max;
  for (auto* p : pts) {
    xlo = std::min(xlo, p->cost.intensity());
    xhi = std::max(xhi, p->cost.intensity());
    ylo = std::min(ylo, p->gflops);
  }
  xlo = std::pow(10, std::floor(std::log10(xlo)));
  xhi = std::pow(10, std::ceil(std::log10(xhi * 2)));
  ylo = std::pow(10, std::floor(std::log10(ylo)));
  yhi = std::pow(10, std::ceil(std::log10(yhi * 1.5)));

  const double W = 1100, H = 720, L = 90, R = 260, T = 60, B = 70;  // R: legend column
  const double pw = W - L - R, ph = H - T - B;
  auto X = [&](double x) { return L + pw * (std::log10(x) - std::log10(xlo)) / (std::log10(xhi) - std::log10(xlo)); };
  auto Y = [&](double y) { return T + ph * (1 - (std::log10(y) - std::log10(ylo)) / (std::log10(yhi) - std::log10(ylo))); };
  char b[512];
  std::ostringstream o;
  std::snprintf(b, sizeof b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "font-family=\"DejaVu Sans, Arial, sans-serif\">\n",
                W, H, W, H);
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" << b;
  o << "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::snprintf(b, sizeof b, "<text x=\"%.0f\" y=\"30\" font-size=\"16\" text-anchor=\"middle\">", L + pw / 2);
  o << b << esc(plot.title) << "</text>\n";
  // grid and decade labels
  o << "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  for (double d = xlo; d <= xhi * 1.0001; d *= 10)
    for (int k = 1; k < 10 && d * k <= xhi * 1.0001; ++k) {
      std::snprintf(b, sizeof b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"%s/>\n", X(d * k), T, X(d * k),
                    T + ph, k == 1 ? " stroke=\"#bbbbbb\"" : "");
      o << b;
    }
  for (double d = ylo; d <= yhi * 1.0001; d *= 10)
    for (int k = 1; k < 10 && d * k <= yhi * 1.0001; ++k) {
      std::snprintf(b, sizeof b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"%s/>\n", L, Y(d * k), L + pw,
                    Y(d * k), k == 1 ? " stroke=\"#bbbbbb\"" : "");
      o << b;
    }
  o << "</g>\n<g font-size=\"12\" fill=\"#333\">\n";
  for (double d = xlo; d <= xhi * 1.0001; d *= 10) {
    std::snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", X(d), T + ph + 18,
                  num(d).c_str());
    o << b;
  }
  for (double d = ylo; d <= yhi * 1.0001; d *= 10) {
    std::snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, Y(d) + 4,
                  num(d).c_str());
    o << b;
  }
  std::snprintf(b, sizeof b,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\">operational intensity "
                "(FLOP/byte moved)</text>\n",
                L + pw / 2, H - 22);
  o << b;
  std::snprintf(b, sizeof b,
                "<text x=\"22\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" transform=\"rotate(-90 22 %.1f)\">"
                "performance (GFLOP/s)</text>\n",
                T + ph / 2, T + ph / 2);
  o << b << "</g>\n";
  std::snprintf(b, sizeof b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
                L, T, pw, ph);
  o << b;

  // roofs: the bandwidth diagonal up to the highest peak, one horizontal line per peak from its ridge
  o << "<g class=\"roofs\" fill=\"none\" stroke-width=\"2.5\">\n";
  const double x0 = std::max(xlo, ylo / bw), x1 = peak_max / bw;
  std::snprintf(b, sizeof b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", X(x0),
                Y(x0 * bw), X(x1), Y(x1 * bw));
  o << b;
  const double angle = std::atan2(Y(x1 * bw) - Y(x0 * bw), X(x1) - X(x0)) * 180 / M_PI;
  const double lx = std::sqrt(x0 * x1 / 10) > x0 ? std::sqrt(x0 * x1 / 10) : x0;
  std::snprintf(b, sizeof b,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" stroke=\"none\" "
                "transform=\"rotate(%.1f %.1f %.1f)\">",
                X(lx), Y(lx * bw) - 10, angle, X(lx), Y(lx * bw) - 10);
  o << b << esc(plot.bandwidth_label) << "</text>\n";
  if (plot.cache_gbs > bw) {  // a cache diagonal, dashed, up to the highest peak
    const double cb = plot.cache_gbs, c0 = std::max(xlo, ylo / cb), c1 = peak_max / cb;
    std::snprintf(b, sizeof b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-width=\"1.5\" "
                  "stroke-dasharray=\"4 4\"/>\n",
                  X(c0), Y(c0 * cb), X(c1), Y(c1 * cb));
    o << b;
    const double cx = std::max(c0 * 2, std::sqrt(c0 * c1) / 3);
    std::snprintf(b, sizeof b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#777\" stroke=\"none\" "
                  "transform=\"rotate(%.1f %.1f %.1f)\">",
                  X(cx), Y(cx * cb) - 10, angle, X(cx), Y(cx * cb) - 10);
    o << b << esc(plot.cache_label) << "</text>\n";
  }
  int ri = 0;
  for (auto& r : plot.roofs) {
    const char* dash = ri++ == 0 ? "" : " stroke-dasharray=\"8 4\"";
    std::snprintf(b, sizeof b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"%s/>\n",
                  X(r.gflops / bw), Y(r.gflops), X(xhi), Y(r.gflops), dash);
    o << b;
    std::snprintf(b, sizeof b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" stroke=\"none\" text-anchor=\"end\">",
                  X(xhi) - 4, Y(r.gflops) - 5);
    o << b << esc(r.label) << "</text>\n";
  }
  o << "</g>\n";

  // points, coloured by op type
  std::map<std::string, std::string> colour;
  for (auto* p : pts)
    if (!colour.count(p->op)) {
      size_t k = colour.size();
      colour[p->op] = kPalette[k % (sizeof kPalette / sizeof *kPalette)];
    }
  o << "<g class=\"layers\">\n";
  for (size_t k = 0; k < pts.size(); ++k) {
    const RooflinePoint* p = pts[k];
    const double cx = X(p->cost.intensity()), cy = Y(std::max(p->gflops, ylo));
    std::snprintf(b, sizeof b,
                  "<circle class=\"layer\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" fill-opacity=\"0.85\" "
                  "stroke=\"black\" stroke-width=\"0.5\"><title>",
                  cx, cy, colour[p->op].c_str());
    o << b << esc(p->name) << " (" << esc(p->op) << "): ";
    std::snprintf(b, sizeof b, "%.2f FLOP/B, %.2f GFLOP/s, %.0f%% of roof, %.4f ms", p->cost.intensity(), p->gflops,
                  p->pct_of_roof, p->ms);
    o << b << "</title></circle>\n";
    // "#12 conv.0/conv.0.0": the table's row number and the end of the name
    std::string tail = p->name;
    if (auto slash = tail.find_last_of('/'); slash != std::string::npos && slash + 1 < tail.size() &&
                                             std::all_of(tail.begin() + slash + 1, tail.end(), ::isalpha))
      tail = tail.substr(0, slash);  // ".../conv.0.0/Conv" -> ".../conv.0.0"
    if (tail.size() > 20) tail = tail.substr(tail.size() - 20);
    std::string label = "#" + std::to_string(index[k]) + " " + tail;
    std::snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"8\" fill=\"#222\">", cx + 6, cy + 3);
    o << b << esc(label) << "</text>\n";
  }
  o << "</g>\n";

  // legend
  o << "<g class=\"legend\" font-size=\"12\">\n";
  double ly = T + 10;
  std::snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">op type</text>\n", L + pw + 20, ly);
  o << b;
  for (auto& [op, col] : colour) {
    ly += 20;
    std::snprintf(b, sizeof b,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"black\" stroke-width=\"0.5\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\">",
                  L + pw + 26, ly - 4, col.c_str(), L + pw + 38, ly);
    o << b << esc(op) << "</text>\n";
  }
  ly += 30;
  std::snprintf(b, sizeof b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">%zu layers plotted</text>\n", L + pw + 20, ly,
                pts.size());
  o << b;
  if (pts.size() < plot.points.size()) {
    std::snprintf(b, sizeof b,
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">%zu without arithmetic (copies)</text>\n",
                  L + pw + 20, ly + 16, plot.points.size() - pts.size());
    o << b;
  }
  o << "</g>\n</svg>\n";
  return o.str();
}

}  // namespace ef
