// Printing: the header line, the results table and the targets section.
#pragma once

#include "bench.hpp"
#include "machine.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct options
{
  int runs = 3;
  bool quick = false;
  std::string filter;
  std::string peer_filter;
  double timeout_s = 0; // per run; 0: the default for the mode
  bool fresh = false;    // each run in a child process of its own (Linux)
  std::string load_at_start; // 1-minute load average before the first run
};

/// The median of a cell's runs (by rate), and whether the cell ran at all.
struct cell
{
  peer_id peer;
  measurement median;
  std::vector<double> rates; // every run, in order
  std::vector<double> cross_core_ns; // every run's cross-core round trip (measurement::cross_core_ns), in order
};

struct row_set
{
  const workload* w;
  std::uint64_t ops; // operations per run, after --quick
  std::vector<cell> cells;
};

class report
{
public:
  explicit report(std::vector<row_set> rows) : rows_(std::move(rows)) {}

  void print_header(std::ostream& os, const options& opt) const;
  void print_table(std::ostream& os) const;
  void print_strand_cost(std::ostream& os) const;
  /// Every run of every cell, with the cross-core round trip measured just
  /// before it (see cross_core_round_trip_ns in machine.hpp).
  void print_runs(std::ostream& os) const;
  void print_targets(std::ostream& os) const;
  /// Whether any cell failed its self-check.
  bool any_error() const;

private:
  const row_set* find(const std::string& workload) const;
  std::optional<double> rate(const std::string& workload, peer_id p) const;
  std::optional<double> ratio(const row_set& r, const cell& c, peer_id base) const;

  std::vector<row_set> rows_;
};

} // namespace bench
