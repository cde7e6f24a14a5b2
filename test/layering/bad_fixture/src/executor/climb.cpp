// Violation: a relative path out of the folder.
#include "../runtime/runtime_internals.hpp"
