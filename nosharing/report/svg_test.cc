#include "nosharing/report/svg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

namespace nosharing {
namespace svg_test {  // named, not anonymous: the tests compile in unity batches

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SvgTest, LinesBreakAtNanAndLabelsAreEscaped) {
  PlotSeries s;
  s.label = "a<b";
  s.x = {0, 1, 2, 3, 4};
  s.y = {0, 1, NAN, 3, 4};
  PlotOptions o;
  o.title = "t & u";
  const std::string svg = plot_svg({s}, o);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("t &amp; u"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b"), std::string::npos);
  EXPECT_EQ(count(svg, "<path"), 1);
  const size_t d = svg.find(" d=\"") + 4;
  EXPECT_EQ(count(svg.substr(d, svg.find('"', d) - d), "M"), 2);  // two runs of points
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(SvgTest, MarkersUsePerPointColoursAndEmptyDataStillDraws) {
  PlotSeries s;
  s.markers = true;
  s.x = {1, 2};
  s.y = {1, 2};
  s.point_colors = {"#ff0000", "#00ff00"};
  const std::string svg = plot_svg({s}, {});
  EXPECT_EQ(count(svg, "<circle"), 2);
  EXPECT_NE(svg.find("#00ff00"), std::string::npos);
  const std::string empty = plot_svg({}, {});
  EXPECT_NE(empty.find("</svg>"), std::string::npos);
}

TEST(SvgTest, PointLabelsStayInsideAndApartAndLegendsCanGoBelow) {
  PlotSeries s;
  s.markers = true;
  s.marker_radius = 5;
  s.x = {0, 1, 1, NAN};
  s.y = {0, 1, 1, 2};
  s.point_labels = {"left <a>", "right", "same place", "not drawn"};
  PlotOptions o;
  o.x_min = -1, o.x_max = 1.1;
  const std::string svg = plot_svg({s}, o);
  EXPECT_EQ(count(svg, "r=\"5\""), 3);
  EXPECT_NE(svg.find(">left &lt;a&gt;</text>"), std::string::npos);
  EXPECT_EQ(svg.find("not drawn"), std::string::npos);  // its point is not finite
  // Near the right edge the labels end at their dots; two dots at one place are not
  // labelled on top of each other.
  const std::regex label(
      "<text x=\"([0-9.]+)\" y=\"([0-9.]+)\" text-anchor=\"end\">(right|same place)<");
  std::vector<double> ys;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), label); it != std::sregex_iterator();
       ++it) {
    ys.push_back(std::stod((*it)[2]));
  }
  ASSERT_EQ(ys.size(), 2u) << svg;
  EXPECT_GE(std::abs(ys[0] - ys[1]), 12);

  // A dense cluster: 30 labelled points at one place. Full labels where a line is free within
  // 6 lines of the dot, the rest shrink to their number; none overlaps another.
  PlotSeries cluster;
  cluster.markers = true;
  for (int i = 0; i < 30; ++i) {
    cluster.x.push_back(0.5);
    cluster.y.push_back(0.5);
    cluster.point_labels.push_back(std::to_string(i + 1) + ": run " + std::to_string(i + 1));
  }
  PlotOptions square;
  square.x_min = 0, square.x_max = 1, square.y_min = 0, square.y_max = 1;
  const std::string dense = plot_svg({cluster}, square);
  const std::regex any_label("<text x=\"([0-9.]+)\" y=\"([0-9.]+)\" text-anchor=\"start\">([^<]*)<");
  int full = 0, numbers = 0;
  std::vector<double> label_ys;
  for (auto it = std::sregex_iterator(dense.begin(), dense.end(), any_label);
       it != std::sregex_iterator(); ++it) {
    const std::string text = (*it)[3];
    if (text.find("run") != std::string::npos) {
      ++full;
      label_ys.push_back(std::stod((*it)[2]));
    } else if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
      ++numbers;
    }
  }
  EXPECT_EQ(full, 13) << dense;  // the dot's line and 6 above and below
  EXPECT_EQ(full + numbers, 30);
  std::sort(label_ys.begin(), label_ys.end());
  for (size_t k = 1; k < label_ys.size(); ++k) EXPECT_GE(label_ys[k] - label_ys[k - 1], 12.0);

  PlotSeries a, b;
  a.label = "a rather long label that would not fit in the corner";
  b.label = "b";
  a.x = b.x = {0, 1};
  a.y = b.y = {0, 1};
  o = PlotOptions();
  o.legend_below = true;
  o.height = 340;
  const std::string below = plot_svg({a, b}, o);
  // The frame ends above the x label, and the legend's two lines under it.
  const std::regex frame("<rect x=\"58\" y=\"28\" width=\"[0-9.]+\" height=\"([0-9.]+)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(below, m, frame)) << below;
  EXPECT_DOUBLE_EQ(std::stod(m[1]), 340 - 28 - 44 - 2 * 14 - 6);
  const size_t legend = below.find(a.label);
  ASSERT_NE(legend, std::string::npos);
  const size_t y_at = below.rfind("y=\"", legend) + 3;
  EXPECT_GT(std::stod(below.substr(y_at)), 28 + std::stod(m[1]) + 36);
}

}  // namespace svg_test
}  // namespace nosharing
