// nanorun::io_context: the name to use when migrating from boost::asio::io_context.
#pragma once

#include <nanorun/runtime.hpp>
