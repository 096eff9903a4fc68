#include "nosharing/report/svg.h"

#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace svg_test
}  // namespace nosharing
