# Install rules and the CMake package `Kiln` (docs/SDK.md): the static libraries a worker program
# links, their headers under <prefix>/include/kiln/ (the in-tree include paths keep working, e.g.
# "executor/worker.h"), the generated proto headers, the `kiln` binary, KilnConfig.cmake with the
# targets Kiln::worker (umbrella) and Kiln::<module>, and kiln.pc for pkg-config.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KILN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Kiln)
set(KILN_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/kiln)
# Bottom of the dependency graph last: the order a linker wants them in (pkg-config, docs).
set(KILN_SDK_MODULES worker_main cli_flags executor routing metrics client gpu payload base proto)

# Kiln::worker: everything a worker program needs, one name to link.
add_library(kiln_worker INTERFACE)
add_library(Kiln::worker ALIAS kiln_worker)
set_target_properties(kiln_worker PROPERTIES EXPORT_NAME worker)
target_compile_features(kiln_worker INTERFACE cxx_std_20)
# The public headers a worker program includes: <kiln/worker.h>, <kiln/activity.h>,
# <kiln/client.h>, <kiln/gpu.h>, <kiln/payload.h>, <kiln/worker_main.h> (include/kiln/).
target_include_directories(kiln_worker INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
foreach(module ${KILN_SDK_MODULES})
  target_link_libraries(kiln_worker INTERFACE kiln_${module})
  set_target_properties(kiln_${module} PROPERTIES EXPORT_NAME ${module})
endforeach()
# The generated protobuf headers have an accessor named `linux` (worker/v1 LinuxPlatform). CMake's
# default for an outside project is -std=gnu++20, where GCC and Clang predefine the macro `linux`
# to 1 and break those headers; an installed Kiln undefines it for its users (__linux__ stays).
# In-tree builds use CXX_EXTENSIONS OFF and are left alone.
target_compile_options(kiln_proto INTERFACE
  $<INSTALL_INTERFACE:$<$<COMPILE_LANGUAGE:CXX>:-Ulinux>>)

# A sanitizer build's libraries need the sanitizer's runtime in every program that links them.
set(KILN_SANITIZE_LINK "")
if(KILN_SANITIZE STREQUAL "address")
  set(KILN_SANITIZE_LINK -fsanitize=address,undefined)
elseif(KILN_SANITIZE STREQUAL "thread")
  set(KILN_SANITIZE_LINK -fsanitize=thread)
endif()
if(KILN_SANITIZE_LINK)
  target_link_options(kiln_worker INTERFACE $<INSTALL_INTERFACE:${KILN_SANITIZE_LINK}>)
endif()

# Headers: every header a module's target lists (a public header may include an internal/ one, so
# those travel too), at its path under the module folder.
foreach(module ${KILN_SDK_MODULES})
  get_target_property(sources kiln_${module} SOURCES)
  get_target_property(source_dir kiln_${module} SOURCE_DIR)
  foreach(source ${sources})
    if(NOT source MATCHES "\\.h$")
      continue()
    endif()
    if(module STREQUAL "proto")
      file(RELATIVE_PATH relative ${CMAKE_BINARY_DIR}/proto/gen ${source})
      set(destination ${KILN_INSTALL_INCLUDEDIR})
    else()
      # At its path in the tree (cli_flags' headers are cli/..., as the code includes them).
      set(relative ${source})
      file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${source_dir})
      set(destination ${KILN_INSTALL_INCLUDEDIR}/${folder})
      set(source ${source_dir}/${source})
    endif()
    get_filename_component(subdir ${relative} DIRECTORY)
    install(FILES ${source} DESTINATION ${destination}/${subdir} COMPONENT sdk)
  endforeach()
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/kiln DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT sdk FILES_MATCHING PATTERN "*.h")

install(TARGETS kiln_worker EXPORT KilnTargets)
foreach(module ${KILN_SDK_MODULES})
  install(TARGETS kiln_${module} EXPORT KilnTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
    INCLUDES DESTINATION ${KILN_INSTALL_INCLUDEDIR})
endforeach()
install(TARGETS kiln RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
install(EXPORT KilnTargets NAMESPACE Kiln:: DESTINATION ${KILN_INSTALL_CMAKEDIR} COMPONENT sdk)

set(KILN_CUDA_TOOLKIT_ROOT "")
if(KILN_HAVE_CUDA)
  get_filename_component(KILN_CUDA_TOOLKIT_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/KilnConfig.cmake.in
  ${CMAKE_BINARY_DIR}/KilnConfig.cmake INSTALL_DESTINATION ${KILN_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/KilnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/KilnConfig.cmake ${CMAKE_BINARY_DIR}/KilnConfigVersion.cmake
  DESTINATION ${KILN_INSTALL_CMAKEDIR} COMPONENT sdk)

# pkg-config: the same libraries in link order; the dependencies by their own .pc names.
set(KILN_PC_LIBS "")
foreach(module ${KILN_SDK_MODULES})
  string(APPEND KILN_PC_LIBS " -lkiln_${module}")
endforeach()
set(KILN_PC_EXTRA_LIBS "")
if(KILN_HAVE_CUDA)
  set(KILN_PC_EXTRA_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -lrt")
endif()
file(RELATIVE_PATH KILN_PC_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)  # relocatable
if(KILN_HAVE_CUDA)
  set(KILN_HAVE_CUDA_01 1)
else()
  set(KILN_HAVE_CUDA_01 0)
endif()
if(KILN_SANITIZE_LINK)
  string(APPEND KILN_PC_EXTRA_LIBS " ${KILN_SANITIZE_LINK}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/kiln.pc.in ${CMAKE_BINARY_DIR}/kiln.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/kiln.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT sdk)
