// Scheduler behaviour: end of stream, drops under a slow node (flow limiter
// and keep_newest queues), timestamp joins, errors, no deadlock, stop().
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "test_nodes.h"

using namespace ef::pipe;
using eftest::collected;

namespace {

RunSummary run_yaml(const std::string& yaml) {
  collected().clear();
  Pipeline p(parse_pipeline(yaml, "test.yaml"));
  return p.run();
}

const NodeStats& node(const RunSummary& s, const std::string& id) {
  for (auto& n : s.nodes)
    if (n.id == id) return n;
  throw std::runtime_error("no node " + id);
}

}  // namespace

TEST(Scheduler, EndOfStreamDeliversEveryFrameInOrder) {
  auto s = run_yaml(R"(
nodes:
  src: {type: test_pattern_source, params: {size: 64x48, frames: 50}}
  mid: {type: test_slow, inputs: {image: src.image}, params: {ms: 0}}
  out: {type: test_collect, inputs: {in: mid.image}}
)");
  std::vector<int64_t> want(50);
  for (int i = 0; i < 50; ++i) want[i] = i;
  EXPECT_EQ(collected().seqs, want);
  EXPECT_EQ(s.frames_in, 50);
  EXPECT_EQ(s.frames_out, 50);
  EXPECT_EQ(s.source_dropped, 0);
  // timestamps come from the source's frame rate (30 fps -> 33333 us)
  EXPECT_EQ(collected().ts[3], int64_t(3 * 1e6 / 30));
}

TEST(Scheduler, LiveSourceDropsStaleFramesUnderASlowNode) {
  // The source produces a frame every 2 ms, the node needs 15 ms per frame:
  // the flow limiter must drop at the source instead of queueing a backlog.
  auto s = run_yaml(R"(
options: {max_in_flight: 1}
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: 120, fps: 500, live: true}}
  slow: {type: test_slow, inputs: {image: src.image}, params: {ms: 15}}
  out: {type: test_collect, inputs: {in: slow.image}}
)");
  auto& seqs = collected().seqs;
  EXPECT_EQ(s.frames_in, 120);
  EXPECT_GT(s.source_dropped, 0);
  EXPECT_EQ(int64_t(seqs.size()) + s.source_dropped, 120);  // every frame is either processed or counted
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end());
}

TEST(Scheduler, KeepNewestQueueDropsOldestAndCounts) {
  auto s = run_yaml(R"(
options: {max_in_flight: 8}
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: 60}}
  slow:
    type: test_slow
    inputs: {image: {from: src.image, policy: keep_newest, capacity: 1}}
    params: {ms: 5}
  out: {type: test_collect, inputs: {in: slow.image}}
)");
  auto& seqs = collected().seqs;
  EXPECT_GT(node(s, "slow").dropped, 0);
  EXPECT_EQ(int64_t(seqs.size()) + node(s, "slow").dropped, 60);
  EXPECT_EQ(seqs.back(), 59);  // the newest frame always survives
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
}

TEST(Scheduler, JoinMatchesTimestampsAcrossBranches) {
  // Branch a drops every third frame; the join must pair equal timestamps
  // only and discard b's unmatched frames.
  auto s = run_yaml(R"(
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: 30}}
  a: {type: test_slow, inputs: {image: src.image}, params: {ms: 1, drop_every: 3}}
  b: {type: test_slow, inputs: {image: src.image}, params: {ms: 0}}
  j: {type: test_join, inputs: {a: a.image, b: b.image}}
  out: {type: test_collect, inputs: {in: j.image}}
)");
  std::vector<int64_t> want;
  for (int i = 0; i < 30; ++i)
    if (i % 3 != 0) want.push_back(i);
  EXPECT_EQ(collected().seqs, want);
  // b's frames 0,3,...,27 are dropped by the join (29 was matched); frame 27's
  // partner never comes, so at most 10 drops, at least 9
  EXPECT_GE(node(s, "j").join_dropped, 9);
  EXPECT_LE(node(s, "j").join_dropped, 10);
}

TEST(Scheduler, NodeErrorStopsThePipelineAndNamesTheNode) {
  try {
    run_yaml(R"(
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: -1}}
  bad: {type: test_slow, inputs: {image: src.image}, params: {ms: 0, fail_at: 10}}
  out: {type: test_collect, inputs: {in: bad.image}}
)");
    FAIL() << "expected an error";
  } catch (const ef::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("test.yaml:4"), std::string::npos) << m;
    EXPECT_NE(m.find("node 'bad'"), std::string::npos) << m;
    EXPECT_NE(m.find("synthetic failure at frame 10"), std::string::npos) << m;
  }
  // frames after the failing one never arrive (queued ones may be discarded)
  EXPECT_LE(collected().seqs.size(), 10u);
  for (size_t i = 0; i < collected().seqs.size(); ++i) EXPECT_EQ(collected().seqs[i], int64_t(i));
}

TEST(Scheduler, ErrorWhileUpstreamWaitsOnAFullQueueStopsCleanly) {
  // The source blocks on slow's full capacity-1 queue (and on the flight
  // limit) while 'bad' fails: run() must wake every waiting thread and
  // report the failure instead of hanging (ctest's timeout would catch that).
  for (int max_in_flight : {1, 4}) {
    std::string yaml = "options: {max_in_flight: " + std::to_string(max_in_flight) + R"(}
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: -1}}
  slow: {type: test_slow, inputs: {image: {from: src.image, capacity: 1}}, params: {ms: 30}}
  bad: {type: test_slow, inputs: {image: {from: src.image, capacity: 1}}, params: {ms: 0, fail_at: 3}}
  j: {type: test_join, inputs: {a: slow.image, b: bad.image}}
  out: {type: test_collect, inputs: {in: j.image}}
)";
    try {
      run_yaml(yaml);
      FAIL() << "expected an error";
    } catch (const ef::Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("test.yaml:5"), std::string::npos) << m;
      EXPECT_NE(m.find("node 'bad'"), std::string::npos) << m;
      EXPECT_NE(m.find("synthetic failure at frame 3"), std::string::npos) << m;
    }
    EXPECT_LE(collected().seqs.size(), 3u);
  }
}

TEST(Scheduler, SourceErrorMidStreamStopsAndNamesTheSource) {
  try {
    run_yaml(R"(
nodes:
  cam: {type: test_failing_source, params: {fail_at: 7}}
  mid: {type: test_slow, inputs: {image: cam.image}, params: {ms: 1}}
  out: {type: test_collect, inputs: {in: mid.image}}
)");
    FAIL() << "expected an error";
  } catch (const ef::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("test.yaml:3"), std::string::npos) << m;
    EXPECT_NE(m.find("node 'cam'"), std::string::npos) << m;
    EXPECT_NE(m.find("synthetic source failure at frame 7"), std::string::npos) << m;
  }
  // what arrived is in order, and nothing after the failure
  auto& seqs = collected().seqs;
  EXPECT_LE(seqs.size(), 7u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], int64_t(i));
}

TEST(Scheduler, NoDeadlockWithFullQueuesInADiamond) {
  // capacity-1 blocking queues, one slow branch, a join: the source must not
  // block on a full queue that the join waits behind.
  auto s = run_yaml(R"(
options: {max_in_flight: 4}
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: 80}}
  a: {type: test_slow, inputs: {image: {from: src.image, capacity: 1}}, params: {ms: 2}}
  b: {type: test_slow, inputs: {image: {from: src.image, capacity: 1}}, params: {ms: 0}}
  j: {type: test_join, inputs: {a: {from: a.image, capacity: 1}, b: {from: b.image, capacity: 1}}}
  out: {type: test_collect, inputs: {in: {from: j.image, capacity: 1}}}
)");
  EXPECT_EQ(collected().seqs.size(), 80u);
  EXPECT_EQ(s.queue_dropped, 0);
}

TEST(Scheduler, CpuTimePerNodeAndTheCriticalPath) {
  // a (3 ms CPU) -> b (2 ms) and c (1 ms) joined: the longest chain by CPU
  // is src -> a -> b -> j -> out = 5 ms plus the small nodes; per-node CPU
  // is measured on the node's thread, so a busy machine does not change it.
  auto s = run_yaml(R"(
nodes:
  src: {type: test_pattern_source, params: {size: 16x16, frames: 20}}
  a: {type: test_slow, inputs: {image: src.image}, params: {ms: 0, cpu_ms: 3}}
  b: {type: test_slow, inputs: {image: a.image}, params: {ms: 0, cpu_ms: 2}}
  c: {type: test_slow, inputs: {image: src.image}, params: {ms: 0, cpu_ms: 1}}
  j: {type: test_join, inputs: {a: b.image, b: c.image}}
  out: {type: test_collect, inputs: {in: j.image}}
)");
  EXPECT_NEAR(node(s, "a").cpu_ms, 3.0, 0.3);
  EXPECT_NEAR(node(s, "c").cpu_ms, 1.0, 0.3);
  EXPECT_GE(s.critical_path_cpu_ms, 5.0);
  EXPECT_LT(s.critical_path_cpu_ms, 6.0);
}

TEST(Scheduler, StopEndsAnEndlessPipeline) {
  collected().clear();
  Pipeline p(parse_pipeline(R"(
nodes:
  src: {type: test_pattern_source, params: {size: 32x32, frames: -1}}
  out: {type: test_collect, inputs: {in: src.image}}
)", "test.yaml"));
  std::thread t([&] {
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(collected().m);
        if (collected().seqs.size() >= 20) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    p.stop();
  });
  auto s = p.run();
  t.join();
  EXPECT_GE(s.frames_in, 20);
}

