# All dependencies come from Debian packages (see ./x setup).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs videoio)
find_package(Protobuf REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 CONFIG QUIET)
find_library(XNNPACK_LIB XNNPACK REQUIRED)
# pthreadpool: only its header. libedgeflow implements the API itself
# (src/runtime/thread_pool.cc) and must come before libXNNPACK's own
# libpthreadpool in the dynamic linker's search order, so nothing links it.
find_path(PTHREADPOOL_INCLUDE pthreadpool.h REQUIRED)
find_library(CPUINFO_LIB cpuinfo REQUIRED)
find_library(ONNX_LIB onnx REQUIRED)
find_library(ONNX_PROTO_LIB onnx_proto REQUIRED)
find_library(KISSFFT_LIB kissfft-float REQUIRED)
find_path(KISSFFT_INCLUDE kissfft/kiss_fft.h REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)

add_library(ef_deps_engine INTERFACE)
target_link_libraries(ef_deps_engine INTERFACE
  ${XNNPACK_LIB} ${CPUINFO_LIB}
  ${ONNX_LIB} ${ONNX_PROTO_LIB} protobuf::libprotobuf
  opencv_core opencv_imgproc opencv_imgcodecs Threads::Threads)
target_compile_definitions(ef_deps_engine INTERFACE ONNX_NAMESPACE=onnx ONNX_ML=1)
target_include_directories(ef_deps_engine INTERFACE ${OpenCV_INCLUDE_DIRS})

add_library(ef_deps_audio INTERFACE)
target_link_libraries(ef_deps_audio INTERFACE ${KISSFFT_LIB} PkgConfig::SNDFILE Threads::Threads
  opencv_core opencv_imgproc opencv_imgcodecs)
target_include_directories(ef_deps_audio INTERFACE ${KISSFFT_INCLUDE}/kissfft ${OpenCV_INCLUDE_DIRS})

add_library(ef_deps_vision INTERFACE)
target_link_libraries(ef_deps_vision INTERFACE opencv_core opencv_imgproc opencv_imgcodecs opencv_videoio
  yaml-cpp Threads::Threads)
target_include_directories(ef_deps_vision INTERFACE ${OpenCV_INCLUDE_DIRS})

add_library(ef_deps_cli INTERFACE)
target_link_libraries(ef_deps_cli INTERFACE opencv_core opencv_imgproc opencv_imgcodecs opencv_videoio
  yaml-cpp Threads::Threads)
target_include_directories(ef_deps_cli INTERFACE ${OpenCV_INCLUDE_DIRS})
if(TARGET CLI11::CLI11)
  target_link_libraries(ef_deps_cli INTERFACE CLI11::CLI11)
endif()
