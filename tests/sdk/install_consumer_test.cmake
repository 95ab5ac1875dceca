# sdk_install_consumer_test: a user's path from docs/SDK.md, run for real. Installs Kiln's build into
# a fresh prefix, builds examples/hello there as an outside project (find_package(Kiln), link
# Kiln::worker, CMake's default -std=gnu++20), links it once more through kiln.pc, and runs both
# programs (--help, and a refused TEMPORAL_ADDRESS that runs the installed client library) and the
# installed `kiln`. The temporary folder is removed whatever the outcome.
#
# cmake -DKILN_BUILD_DIR=... -DCONSUMER_SOURCE=... -DGENERATOR=... -DCXX=... -DPKG_CONFIG=...
#       -P install_consumer_test.cmake   (the temporary folder goes under $TMPDIR, else /tmp)
foreach(var KILN_BUILD_DIR CONSUMER_SOURCE GENERATOR CXX PKG_CONFIG)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(TMP_ROOT /tmp)
if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(TMP_ROOT "$ENV{TMPDIR}")
endif()
string(RANDOM LENGTH 10 suffix)
set(work "${TMP_ROOT}/kiln-sdk-test-${suffix}")
set(prefix "${work}/prefix")
file(MAKE_DIRECTORY "${work}")

macro(fail what output)
  file(REMOVE_RECURSE "${work}")
  message(FATAL_ERROR "${what}\n${output}")
endmacro()

# Runs a command; on a non-zero exit the test fails with the command's output.
function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
                  WORKING_DIRECTORY "${work}")
  if(NOT rc EQUAL 0)
    file(REMOVE_RECURSE "${work}")
    message(FATAL_ERROR "${name} failed (exit ${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step("cmake --install" ${CMAKE_COMMAND} --install "${KILN_BUILD_DIR}" --prefix "${prefix}")
foreach(file bin/kiln lib/cmake/Kiln/KilnConfig.cmake lib/pkgconfig/kiln.pc
             include/kiln/worker.h include/kiln/activity.h include/kiln/client.h
             include/kiln/gpu.h include/kiln/payload.h include/kiln/worker_main.h
             include/kiln/executor/worker.h include/kiln/client/grpc_temporal_client.h
             include/kiln/temporal/api/workflowservice/v1/service.grpc.pb.h)
  if(NOT EXISTS "${prefix}/${file}")
    fail("the install has no ${file}" "")
  endif()
endforeach()

# No CMAKE_CXX_STANDARD or CMAKE_CXX_EXTENSIONS: what the package sets must be enough.
step("configuring examples/hello against the install"
     ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE}" -B "${work}/hello" -G "${GENERATOR}"
     -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_PREFIX_PATH=${prefix}")
step("building examples/hello against the install" ${CMAKE_COMMAND} --build "${work}/hello")
step("hello_worker --help" "${work}/hello/hello_worker" --help)
if(NOT step_output MATCHES "usage: hello_worker")
  fail("hello_worker --help printed no usage:" "${step_output}")
endif()

# Past --help the installed libraries run: a bad TEMPORAL_ADDRESS is refused with its reason, before
# any connection is tried.
execute_process(COMMAND ${CMAKE_COMMAND} -E env TEMPORAL_ADDRESS=127.0.0.1:notaport
                        "${work}/hello/hello_worker"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 2 OR NOT out MATCHES "port 'notaport', which is not a number")
  fail("hello_worker with TEMPORAL_ADDRESS=127.0.0.1:notaport: expected exit 2 and the reason, got ${rc}:"
       "${out}")
endif()

# pkg-config: the same program from kiln.pc's flags alone.
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
step("pkg-config --cflags kiln" ${PKG_CONFIG} --cflags kiln)
string(STRIP "${step_output}" cflags)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
step("pkg-config --libs kiln" ${PKG_CONFIG} --libs kiln)
string(STRIP "${step_output}" libs)
separate_arguments(libs UNIX_COMMAND "${libs}")
step("building examples/hello from kiln.pc"
     ${CXX} ${cflags} "${CONSUMER_SOURCE}/main.cc" -o "${work}/hello_pc" ${libs})
step("hello_pc --help" "${work}/hello_pc" --help)

step("installed kiln --version" "${prefix}/bin/kiln" --version)
if(NOT step_output MATCHES "[0-9]+\\.[0-9]+")
  fail("installed kiln --version printed no version:" "${step_output}")
endif()

file(REMOVE_RECURSE "${work}")
