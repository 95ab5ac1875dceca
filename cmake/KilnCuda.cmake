# KILN_CUDA: AUTO compiles CUDA code when nvcc is found, ON fails loudly without it, OFF skips it.
# Sets KILN_HAVE_CUDA (cache-internal) and enables the CUDA language when it is on.
#
# nvcc is looked for in CMAKE_CUDA_COMPILER, $CUDA_HOME, /usr/local/cuda, PATH, and last in the
# toolkit that scripts/cuda-toolkit installs from NVIDIA's PyPI wheels (~/.cache/kiln/cuda-*).

set(KILN_HAVE_CUDA OFF)
if(NOT KILN_CUDA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "KILN_CUDA must be AUTO, ON or OFF, not '${KILN_CUDA}'")
endif()

# The GPUs Kiln ships machine code for: Turing, Ampere (A100 and A10/30-series), Ada and Hopper, plus
# Hopper's PTX so newer parts (Blackwell) load it just in time. nvcc 13 dropped everything older.
set(KILN_DEFAULT_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90-real 90-virtual)

if(NOT KILN_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    if(DEFINED ENV{XDG_CACHE_HOME})
      set(_kiln_cache "$ENV{XDG_CACHE_HOME}")
    else()
      set(_kiln_cache "$ENV{HOME}/.cache")
    endif()
    file(GLOB _kiln_wheel_bins LIST_DIRECTORIES true "${_kiln_cache}/kiln/cuda-*/nvidia/cu13/bin")
    list(SORT _kiln_wheel_bins COMPARE NATURAL ORDER DESCENDING)  # newest installed release first
    find_program(KILN_NVCC nvcc HINTS ENV CUDA_HOME PATH_SUFFIXES bin
                 PATHS /usr/local/cuda/bin ENV PATH ${_kiln_wheel_bins} NO_DEFAULT_PATH)
    if(KILN_NVCC)
      set(CMAKE_CUDA_COMPILER ${KILN_NVCC})
    endif()
  endif()
  # "The user gave no architectures" must be decided before enable_language(CUDA): afterwards
  # CMake has cached its compiler's default (52 for old nvcc, 75 for nvcc 13), which is
  # indistinguishable from a choice. A -D on the command line or $CUDAARCHS always wins.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
    set(CMAKE_CUDA_ARCHITECTURES "${KILN_DEFAULT_CUDA_ARCHITECTURES}" CACHE STRING
        "CUDA architectures to build (Kiln's default: ${KILN_DEFAULT_CUDA_ARCHITECTURES})")
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    if(NOT TARGET CUDA::nvToolsExt)
      # CMake 3.25's FindCUDAToolkit sets a property on CUDA::nvToolsExt even when the toolkit has
      # no such library (CUDA 13, the PyPI wheels) and then fails; an empty target keeps it going.
      add_library(CUDA::nvToolsExt INTERFACE IMPORTED)
    endif()
    find_package(CUDAToolkit REQUIRED)
    set(KILN_HAVE_CUDA ON)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 does not know CUDA20 for nvcc 13
    # One CUDA runtime per process: every target links the static runtime (CUDA::cudart_static),
    # which loads the driver at run time, so binaries start on hosts without a driver.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    find_program(KILN_CUOBJDUMP cuobjdump HINTS "${CUDAToolkit_BIN_DIR}" NO_DEFAULT_PATH)
    message(STATUS "Kiln: CUDA on (${CMAKE_CUDA_COMPILER}, toolkit ${CUDAToolkit_VERSION}, "
                   "architectures ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(KILN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "KILN_CUDA=ON but no CUDA compiler (nvcc) was found. Run "
                        "scripts/cuda-toolkit to install one from PyPI, install the CUDA Toolkit, "
                        "put nvcc on PATH or set CMAKE_CUDA_COMPILER, or use KILN_CUDA=AUTO|OFF.")
  else()
    message(STATUS "Kiln: CUDA off (no nvcc found; scripts/cuda-toolkit installs one)")
  endif()
else()
  message(STATUS "Kiln: CUDA off (KILN_CUDA=OFF)")
endif()
