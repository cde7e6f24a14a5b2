// nanorun::signal_set: a signal set on any executor of a nanorun runtime.
#pragma once

#include <nanorun/basic_signal_set.hpp>

namespace nanorun {

/// A signal set with the default executor, as boost::asio::signal_set.
using signal_set = basic_signal_set<>;

} // namespace nanorun
