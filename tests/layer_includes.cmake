# CTest script (label "api"): the layers of DESIGN.md are enforced by the
# build. A source file of a layer sees, through its include folder
# (build/layers/<layer>/), only its own layer and the ones below it; an
# include of a layer above does not compile. Checked for each layer against
# the one right above it, with the same include that works from that layer.
#
#   cmake -DBUILD=<build dir> -DSRC=<source dir> -DCXX=<compiler> -DWORK=<scratch> -P tests/layer_includes.cmake
file(MAKE_DIRECTORY "${WORK}")
# layer, a header of its own or below (must compile), a header above (must not).
set(cases
  "weft_config|config/settings.hpp|tracing/span.hpp"
  "weft_tracing|tracing/span.hpp|flows/plan.hpp"
  "weft_net|net/http_types.hpp|export/http_sink.hpp"
  "weft_flows|flows/plan.hpp|components/register.hpp"
  "weft_components|flows/plan.hpp|actors/run_actor.hpp"
  "weft_export|tracing/sink.hpp|actors/messages.hpp"
  "weft_cluster|cluster/wire.hpp|actors/engine_cluster.hpp"
  "weft_actors|actors/run_context.hpp|serve/service.hpp"
  "weft_serve|serve/service.hpp|cli/commands.hpp")
set(failed "")
foreach(case ${cases})
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 layer)
  list(GET parts 1 below)
  list(GET parts 2 above)
  set(flags -std=c++20 -fsyntax-only -I "${BUILD}/layers/${layer}" -I "${SRC}/include" -I /usr/include/lua5.4)
  if(NOT EXISTS "${BUILD}/layers/${layer}")
    list(APPEND failed "${layer}: no include folder ${BUILD}/layers/${layer}")
    continue()
  endif()
  file(WRITE "${WORK}/${layer}_below.cpp" "#include \"${below}\"\n")
  execute_process(COMMAND ${CXX} ${flags} "${WORK}/${layer}_below.cpp" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND failed "${layer}: its own or a lower header ${below} does not compile:\n${err}")
  endif()
  file(WRITE "${WORK}/${layer}_above.cpp" "#include \"${above}\"\n")
  execute_process(COMMAND ${CXX} ${flags} "${WORK}/${layer}_above.cpp" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(rc EQUAL 0)
    list(APPEND failed "${layer}: ${above}, from a layer above, compiles: the layer can see upwards")
  elseif(NOT err MATCHES "No such file or directory")
    list(APPEND failed "${layer}: ${above} failed for another reason than not being visible:\n${err}")
  endif()
endforeach()
if(failed)
  list(JOIN failed "\n" text)
  message(FATAL_ERROR "layers:\n${text}")
endif()
list(LENGTH cases n)
message(STATUS "${n} layers: each sees its own and lower layers, and an include from above fails")
