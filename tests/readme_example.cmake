# The README's embedding example is examples/embed.cpp (from its first #include on), which the
# build compiles and CI runs: the two cannot drift apart.
#   cmake -DSOURCE_DIR=... -P tests/readme_example.cmake
file(READ ${SOURCE_DIR}/README.md readme)
file(READ ${SOURCE_DIR}/examples/embed.cpp example)
string(FIND "${readme}" "```cpp\n" begin)
if(begin LESS 0)
  message(FATAL_ERROR "README.md has no ```cpp block")
endif()
math(EXPR begin "${begin} + 7")
string(SUBSTRING "${readme}" ${begin} -1 readme)
string(FIND "${readme}" "```\n" end)
string(SUBSTRING "${readme}" 0 ${end} shown)
string(FIND "${example}" "#include" first)
string(SUBSTRING "${example}" ${first} -1 example)
if(NOT shown STREQUAL example)
  message(FATAL_ERROR "README.md's example is not examples/embed.cpp: copy the file into it")
endif()
