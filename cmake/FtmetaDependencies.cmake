# Finds ftmeta's dependencies and defines ftmeta::torch. Used by the build and by the installed
# ftmetaConfig.cmake alike, so a consumer resolves them the same way.
#
# LibTorch comes from the pinned torch wheel: give -DFTMETA_PYTHON=<venv>/bin/python (the scripts
# do), or a CMAKE_PREFIX_PATH / Torch_DIR that already points at it.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

if(NOT TARGET ftmeta::torch)
  if(NOT Torch_DIR AND FTMETA_PYTHON)
    execute_process(COMMAND ${FTMETA_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                    OUTPUT_VARIABLE _ftmeta_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE _ftmeta_rc)
    if(NOT _ftmeta_rc EQUAL 0)
      message(FATAL_ERROR "ftmeta: '${FTMETA_PYTHON}' cannot import torch; run scripts/setup.sh first")
    endif()
    list(APPEND CMAKE_PREFIX_PATH ${_ftmeta_torch_prefix})
  endif()
  # The wheel is a CUDA build; name the architectures so configuring needs no GPU to probe.
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} AND NOT TORCH_CUDA_ARCH_LIST)
    set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
  endif()
  find_dependency(Torch)
  add_library(ftmeta::torch INTERFACE IMPORTED)
  # Torch's config exports plain variables; wrap them once as an imported (system) target.
  # The PyPI wheels export a statically linked copy of libstdc++'s std::filesystem from
  # libtorch.so and libtorch_cpu.so (pytorch/pytorch#133437); a program that binds to it crashes
  # in std::filesystem::remove_all. Naming libstdc++ first makes the dynamic linker resolve those
  # symbols to the system libstdc++.
  set(_ftmeta_stdcxx_first "-Wl,--push-state,--no-as-needed,-lstdc++,--pop-state")
  set_target_properties(ftmeta::torch PROPERTIES
    INTERFACE_LINK_LIBRARIES "${_ftmeta_stdcxx_first};${TORCH_LIBRARIES}"
    INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}")
  get_filename_component(FTMETA_TORCH_LIBDIR "${TORCH_LIBRARY}" DIRECTORY)
endif()

find_dependency(OpenCV COMPONENTS core imgproc imgcodecs)
set(FTMETA_OPENCV_TARGETS opencv_core opencv_imgproc opencv_imgcodecs)
find_dependency(Boost 1.71)
find_dependency(ZLIB)
# libjpeg-turbo decodes the loader's JPEGs about 3x faster than OpenCV 4.6's imdecode, with the
# same pixels (tests/unit/data_badfiles.cpp checks they match).
find_dependency(JPEG)

# Optional: the ONNX library (Debian libonnx-dev) and protobuf, for nn/onnx.hpp (export_onnx) and
# nn/onnx_metadata.hpp. Without them ftmeta::onnx_format is not defined; the core library is
# unaffected. ftmeta::onnx_format carries no torch: the LibTorch-free predictor links it alone.
if(NOT TARGET ftmeta::onnx_format)
  find_package(ONNX CONFIG QUIET)
  find_package(Protobuf QUIET)
  if(TARGET onnx AND TARGET onnx_proto AND Protobuf_FOUND)
    # The torch wheel's include folder carries protobuf headers of another version; a folder holding
    # only the system's google/ (protobuf), searched first, keeps them out of ONNX code.
    set(_ftmeta_pb_include ${CMAKE_BINARY_DIR}/ftmeta-protobuf-include)
    file(MAKE_DIRECTORY ${_ftmeta_pb_include})
    if(NOT EXISTS ${_ftmeta_pb_include}/google)
      file(CREATE_LINK ${Protobuf_INCLUDE_DIR}/google ${_ftmeta_pb_include}/google SYMBOLIC)
    endif()
    add_library(ftmeta::onnx_format INTERFACE IMPORTED)
    set_target_properties(ftmeta::onnx_format PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${_ftmeta_pb_include}"
      INTERFACE_LINK_LIBRARIES "onnx;onnx_proto;${Protobuf_LIBRARIES}")
    set(FTMETA_HAVE_ONNX ON)
    message(STATUS "ftmeta: ONNX export enabled (ONNX ${ONNX_VERSION}, protobuf ${Protobuf_VERSION})")
  else()
    set(FTMETA_HAVE_ONNX OFF)
  endif()
endif()
