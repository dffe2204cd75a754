#include <gtest/gtest.h>

#include "edgeflow/session.h"
#include "runtime/memory_planner.h"

namespace ef {

TEST(Session, RunsASingleReluGraph) {
  Graph g;
  int x = g.add_value("x", DType::f32, {2, 3}, true);
  int y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {y});
  g.inputs = {x};
  g.outputs = {y};
  Session s(Model::from_graph(g));
  std::vector<float> in = {-1, 2, -3, 4, 0, -0.5f};
  auto& out = s.run({Tensor::from<float>({2, 3}, in)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  std::vector<float> want = {0, 2, 0, 4, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[0].data_as<float>()[i], want[i]);
}

TEST(Session, WrongInputShapeIsAClearError) {
  Graph g;
  int x = g.add_value("x", DType::f32, {2, 3}, true);
  int y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {y});
  g.inputs = {x};
  g.outputs = {y};
  Session s(Model::from_graph(g));
  try {
    s.run({Tensor(DType::f32, {3, 2})});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x': expected float32[2,3], got float32[3,2]"), std::string::npos)
        << e.what();
  }
}

TEST(MemoryPlanner, ReusesBuffersWithDisjointLifetimes) {
  auto p = plan_memory({{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}});
  // a and c do not overlap in time: they share an offset.
  EXPECT_EQ(p.offsets[0], p.offsets[2]);
  EXPECT_NE(p.offsets[0], p.offsets[1]);
  EXPECT_LT(p.arena_bytes, p.naive_bytes);
}

}  // namespace ef
