# CTest script (label "api"): every public header compiles alone, against
# include/ only, so that none leans on an internal header or on another
# header's includes; and none of them includes an internal header, or CAF
# (weft/caf.hpp excepted, which exists to bring CAF).
#
#   cmake -DSRC=<source dir> -DCXX=<compiler> -DWORK=<scratch dir> -P tests/public_headers.cmake
file(GLOB headers RELATIVE "${SRC}/include" "${SRC}/include/weft/*.hpp")
file(MAKE_DIRECTORY "${WORK}")
set(failed "")
foreach(h ${headers})
  file(READ "${SRC}/include/${h}" text)
  string(REGEX MATCHALL "#include [<\"][^>\"]+[>\"]" includes "${text}")
  foreach(inc ${includes})
    string(REGEX REPLACE "#include [<\"]([^>\"]+)[>\"]" "\\1" path "${inc}")
    if(path MATCHES "^(actors|cli|components|config|export|flows|net|serve|tracing)/")
      list(APPEND failed "${h} includes the internal header ${path}")
    endif()
    if(path MATCHES "^caf/" AND NOT h STREQUAL "weft/caf.hpp")
      list(APPEND failed "${h} includes CAF (${path}); only weft/caf.hpp may")
    endif()
  endforeach()
  string(MAKE_C_IDENTIFIER "${h}" stem)
  file(WRITE "${WORK}/${stem}.cpp" "#include <${h}>\n#include <${h}>\n")
  execute_process(COMMAND ${CXX} -std=c++20 -Wall -Wextra -Werror -fsyntax-only
                          -I "${SRC}/include" "${WORK}/${stem}.cpp"
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND failed "${h} does not compile alone:\n${err}")
  endif()
endforeach()
# What a file that includes them pays, in preprocessed lines: deterministic
# on a given toolchain, unlike timings (bench/header_cost.sh measures those;
# bench/RESULTS.md has the figures). The embedding API stays clear of the
# full JSON library (2.3 s alone), and weft.hpp adds little beyond it.
function(preprocessed_lines header out)
  file(WRITE "${WORK}/lines.cpp" "#include <${header}>\n")
  execute_process(COMMAND ${CXX} -std=c++20 -E -I "${SRC}/include" "${WORK}/lines.cpp"
                  COMMAND wc -l OUTPUT_VARIABLE n OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(${out} ${n} PARENT_SCOPE)
endfunction()
preprocessed_lines(weft/engine.hpp engine_lines)
preprocessed_lines(weft/weft.hpp weft_lines)
preprocessed_lines(nlohmann/json.hpp json_lines)
math(EXPR weft_over_json "${weft_lines} - ${json_lines}")
message(STATUS "preprocessed lines: weft/engine.hpp ${engine_lines}, weft/weft.hpp ${weft_lines}, "
               "nlohmann/json.hpp ${json_lines} (weft.hpp adds ${weft_over_json})")
if(engine_lines GREATER 110000)
  list(APPEND failed "weft/engine.hpp expands to ${engine_lines} lines (bound 110000, 90754 at 0.1.0): a heavy include crept in")
endif()
if(weft_over_json GREATER 20000)
  list(APPEND failed "weft/weft.hpp adds ${weft_over_json} lines to nlohmann/json.hpp (bound 20000, 11226 at 0.1.0)")
endif()

list(LENGTH headers n)
if(failed)
  list(JOIN failed "\n" text)
  message(FATAL_ERROR "public headers:\n${text}")
endif()
message(STATUS "${n} public headers compile alone and include no internal header")
