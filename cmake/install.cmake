include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS edgeflow EXPORT edgeflowTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS edgeflow_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/edgeflow DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT edgeflowTargets NAMESPACE edgeflow:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/edgeflow)
configure_package_config_file(cmake/edgeflowConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/edgeflowConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/edgeflow)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/edgeflowConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/edgeflowConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/edgeflowConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/edgeflow)
