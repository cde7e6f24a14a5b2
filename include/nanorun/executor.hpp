// runtime::basic_executor_type: the executor of a nanorun runtime.
//
// The runtime and its executor refer to each other, so the definition lives in
// <nanorun/impl/executor.hpp>, which <nanorun/runtime.hpp> includes after the
// runtime class: including this header first then still defines the runtime,
// the executor and block_on in that order.
#pragma once

#include <nanorun/runtime.hpp>
