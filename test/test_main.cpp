// The one translation unit that defines Boost.Test's main() for each test executable.
#define BOOST_TEST_MODULE nanorun
#if defined(BOOST_TEST_DYN_LINK)
#include <boost/test/unit_test.hpp>
#else
// Header-only Boost.Test (the Windows cross build): the runner itself is
// compiled here, once; every other file includes <boost/test/unit_test.hpp>.
#include <boost/test/included/unit_test.hpp>
#endif
