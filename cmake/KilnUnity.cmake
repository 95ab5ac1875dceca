# Unity builds for the sanitizer builds (KILN_UNITY_BATCH, off by default).
#
# scripts/build-clang and scripts/test-tsan set KILN_UNITY_BATCH=N: each Kiln library, executable
# and test compiles its C++ sources N at a time in one translation unit (CMake's UNITY_BUILD), so
# the heavy headers (gRPC, protobuf, GoogleTest, spdlog, Abseil) are parsed once per batch instead
# of once per file. That is most of a cold compile at -O0 (docs/RELIABILITY.md, "CI time").
# The GCC build (scripts/build) stays one file per translation unit, so it still catches a source
# that leans on another's includes or a name clash a batch would hide.
#
# Left out of the batches:
#   - generated protobuf code (*.pb.cc): every file defines the same file-static tables
#     (`schemas`, `file_default_instances`), so two in one batch do not compile;
#   - the sources listed in KILN_UNITY_SKIP below, each for a name it shares with another source
#     of its target (an anonymous-namespace helper or constant of the same name).
# CUDA sources (.cu) are never batched (CMake batches C and C++ only).

set(KILN_UNITY_BATCH 0 CACHE STRING
    "Unity builds: compile Kiln's C++ sources N per translation unit (0: off; the sanitizer scripts set it)")
if(KILN_UNITY_BATCH GREATER 0)
  # Initialises the UNITY_BUILD property of every target created after this point.
  set(CMAKE_UNITY_BUILD ON)
  set(CMAKE_UNITY_BUILD_BATCH_SIZE ${KILN_UNITY_BATCH})
endif()

# Sources (relative to the top of the tree) compiled alone even in a unity build, each with the
# name(s) it shares with another source of its target. A new clash shows as "redefinition of" or
# "ambiguous" in the Clang or TSan build and not in the GCC one: rename the helper, or list the
# file here.
set(KILN_UNITY_SKIP
  cli/gpus_worker.cc                              # RenderText (cli/gpus_command.cc)
  cli/task_queue_commands.cc                      # Describe, DescribeFlags
  cli/worker_deployment_commands.cc               # Usage, Describe, List, DescribeFlags
  cluster/sqlite_task_store_reads.cc              # Arg, SqliteError, CachedStatement
  cluster/task_token.cc                           # PutVarint (cluster/internal/error_details.cc)
  gpu/cuda/event_watcher.cc                       # CurrentDevice (gpu/cuda/cuda_activity_gpu.cc)
  gpu/internal/nvml_telemetry.cc                  # Resolve (gpu/internal/nvml_api.cc)
  gpu/visible_devices.cc                          # Resolve
  tests/unit/client/service_client_test.cc        # FakeWorkflowService, OptionsFor
  tests/unit/cluster/engine_durability_test.cc    # AppFailure, Answer
  tests/unit/cluster/engine_test.cc               # Answer
  tests/unit/cluster/held_polls_test.cc           # Scheduled, kT0
  tests/unit/cluster/matcher_test.cc              # kT0
  tests/unit/cluster/task_store_quarantine_test.cc  # SyncAndWait
  tests/unit/cluster/task_store_test.cc           # SyncAndWait
  tests/unit/cluster/timer_set_test.cc            # kT0
  tests/unit/cluster/validation_test.cc           # FromProto
  tests/unit/cluster/version_sets_test.cc         # NewDefault, Request
  tests/unit/executor/sticky_cuda_error_test.cc   # FakeGpuExecution
  tests/unit/gpu/nvml_mig_test.cc                 # NvmlReturn, NvmlDevice, Copy
  tests/unit/gpu/placement_test.cc                # Simulated, Indices
  tests/unit/routing/device_slot_supplier_test.cc # Pinned, Devices, Reserve, Slot
)

# kiln_unity_finish(): called once every target is defined (top-level CMakeLists.txt).
function(kiln_unity_finish)
  if(NOT KILN_UNITY_BATCH GREATER 0)
    return()
  endif()
  set(dirs ${PROJECT_SOURCE_DIR})
  set(skipped 0)
  while(dirs)
    list(POP_FRONT dirs dir)
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    list(APPEND dirs ${subdirs})
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target ${targets})
      get_target_property(unity ${target} UNITY_BUILD)
      get_target_property(type ${target} TYPE)
      if(NOT unity OR type STREQUAL "INTERFACE_LIBRARY" OR type STREQUAL "UTILITY")
        continue()
      endif()
      get_target_property(sources ${target} SOURCES)
      get_target_property(source_dir ${target} SOURCE_DIR)
      foreach(source ${sources})
        if(IS_ABSOLUTE "${source}")
          set(path "${source}")
        else()
          set(path "${source_dir}/${source}")
        endif()
        cmake_path(NORMAL_PATH path)
        cmake_path(RELATIVE_PATH path BASE_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE relative)
        if(source MATCHES "\\.pb\\.cc$" OR relative IN_LIST KILN_UNITY_SKIP)
          set_source_files_properties(${path} TARGET_DIRECTORY ${target}
                                      PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
          math(EXPR skipped "${skipped} + 1")
        endif()
      endforeach()
    endforeach()
  endwhile()
  message(STATUS "Kiln: unity builds, ${KILN_UNITY_BATCH} sources per batch (${skipped} sources compiled alone)")
endfunction()
