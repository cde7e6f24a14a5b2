# nanorun_warnings: the warning set every nanorun target builds with.
add_library(nanorun_warnings INTERFACE)
target_compile_options(nanorun_warnings INTERFACE -Wall -Wextra -Werror -Wshadow)
