# The tree is formatted with the repository's .clang-format: every C++ file
# under the source folders, checked with `clang-format --dry-run --Werror`.
# A file that differs fails the test, and the output names it and the
# lines; `clang-format -i FILE` (the same version, Debian's 14) fixes it.
#
# Inputs: SRC (the source tree).
find_program(CLANG_FORMAT NAMES clang-format clang-format-14)
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format not found: install it (`make test-deps` does, "
                      "or `apt-get install -y clang-format`)")
endif()
set(files)
foreach(dir actors bench cli components config examples export flows include net serve tests
            tracing)
  file(GLOB_RECURSE found "${SRC}/${dir}/*.cpp" "${SRC}/${dir}/*.hpp" "${SRC}/${dir}/*.h")
  list(APPEND files ${found})
endforeach()
list(LENGTH files count)
if(count LESS 100)
  message(FATAL_ERROR "only ${count} C++ files found under ${SRC}: is SRC the source tree?")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${files}
                WORKING_DIRECTORY ${SRC} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "not formatted as .clang-format says (fix with clang-format -i):\n${err}")
endif()
message(STATUS "${count} files formatted as .clang-format says")
