// Facts about the machine and the build, printed in every benchmark header.
#pragma once

#include <string>

namespace bench {

/// The "model name" line of /proc/cpuinfo.
std::string cpu_model();

/// The compiler and its version.
std::string compiler();

/// /proc/loadavg's 1-minute load average, or all three ("?" if unavailable).
std::string load_average(bool all_three = false);

} // namespace bench
