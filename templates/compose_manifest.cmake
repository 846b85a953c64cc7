# cmake -DIN=nodelocaldns.yaml.in -DCOREFILE=Corefile.in -DVERSION=x.y.z -DOUT=nodelocaldns.yaml
#   -P compose_manifest.cmake
# Builds the manifest template: pastes Corefile.in into the ConfigMap (each line indented by four
# spaces, as a YAML literal block), so the Corefile has one source of truth, and sets the default
# image tag to the project version.
file(READ ${IN} manifest)
file(READ ${COREFILE} corefile)
if(NOT corefile MATCHES "\n$")
  message(FATAL_ERROR "${COREFILE} must end with a newline")
endif()
string(REGEX REPLACE "\n$" "" corefile "${corefile}")
string(REPLACE "\n" "\n    " corefile "${corefile}")
set(corefile "    ${corefile}")
string(FIND "${manifest}" "@NLD_COREFILE@" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${IN} has no @NLD_COREFILE@ line")
endif()
string(REPLACE "@NLD_COREFILE@" "${corefile}" manifest "${manifest}")
string(REPLACE "@NLD_VERSION@" "${VERSION}" manifest "${manifest}")
file(WRITE ${OUT}.tmp "${manifest}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
