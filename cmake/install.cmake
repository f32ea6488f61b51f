# What `cmake --install` puts under the prefix, by component (the Debian packages follow them):
#   runtime  the shared libraries (libibcm0)
#   dev      headers, the static libraries or the shared ones' links, the CMake package
#            (find_package(ibcm CONFIG)), the pkg-config files, the documentation (libibcm-dev)
#   tools    the ibcm command and its man pages (ibcm-tools)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ${IBCM_PARTS} EXPORT ibcmTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# librdmacm.so.1 where `ibcm run` looks for it: lib/ibcm beside bin (tools/ibcm/run_command.cpp).
if(TARGET ibcm_rdmacm)
  install(TARGETS ibcm_rdmacm LIBRARY DESTINATION lib/ibcm COMPONENT tools NAMELINK_SKIP)
endif()
set(IBCM_HEADER_EXCLUDES "")
foreach(part umad verbs daemon)
  if(NOT TARGET ibcm_${part})
    list(APPEND IBCM_HEADER_EXCLUDES PATTERN ${part} EXCLUDE)
  endif()
endforeach()
if(NOT TARGET ibcm_umad)
  list(APPEND IBCM_HEADER_EXCLUDES PATTERN sa EXCLUDE)  # the SA queries are part of ibcm_umad
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ibcm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev ${IBCM_HEADER_EXCLUDES})
install(FILES ${PROJECT_BINARY_DIR}/include/ibcm/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ibcm
  COMPONENT dev)

set(IBCM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ibcm)
install(EXPORT ibcmTargets NAMESPACE ibcm:: DESTINATION ${IBCM_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ibcmConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ibcmConfig.cmake INSTALL_DESTINATION ${IBCM_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ibcmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ibcmConfig.cmake ${PROJECT_BINARY_DIR}/ibcmConfigVersion.cmake
  DESTINATION ${IBCM_CMAKE_DIR} COMPONENT dev)

# One .pc file per library, as rdma-core has one per library: ibcm, ibcm-sim, ibcm-text,
# ibcm-transport, ibcm-probe, ibcm-umad, ibcm-verbs, ibcm-daemon. The prefix is found from the file's own place, so that an install with
# `cmake --install --prefix` elsewhere, or a package, needs no rewriting.
file(RELATIVE_PATH IBCM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" IBCM_PC_PREFIX "${IBCM_PC_PREFIX}")
# ibcm_pc(LIB DESCRIPTION REQUIRES REQUIRES_PRIVATE LIBS_PRIVATE)
function(ibcm_pc lib description requires requires_private libs_private)
  if(NOT TARGET ${lib})
    return()
  endif()
  set(IBCM_PC_LIB ${lib})
  string(REPLACE "_" "-" IBCM_PC_NAME ${lib})
  set(IBCM_PC_DESCRIPTION "${description}")
  set(IBCM_PC_REQUIRES "${requires}")
  set(IBCM_PC_REQUIRES_PRIVATE "${requires_private}")
  set(IBCM_PC_LIBS_PRIVATE "${libs_private}")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/ibcm.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${IBCM_PC_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${IBCM_PC_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endfunction()
ibcm_pc(ibcm "InfiniBand Communication Manager: wire format and sans-I/O engine" "" "" "")
ibcm_pc(ibcm_sim "ibcm's deterministic simulated fabric" "ibcm" "" "")
ibcm_pc(ibcm_text "ibcm's events as lines of text (JSON or key=value)" "ibcm" "" "")
ibcm_pc(ibcm_transport "ibcm's RoCEv2 and MAD-over-UDP transports and runtime" "ibcm" "" "-pthread")
ibcm_pc(ibcm_probe "ibcm's conformance probe for a remote CM" "ibcm-transport" "" "")
ibcm_pc(ibcm_umad "ibcm's umad transport and SA queries (through the kernel's MAD layer)"
        "ibcm-transport"
        "libibumad" "")
ibcm_pc(ibcm_verbs "ibcm's verbs binding (real queue pairs driven by the engine)" "ibcm libibverbs"
        "" "")
ibcm_pc(ibcm_daemon "ibcm's node CM for rdma_cm programs (ibcm daemon)" "ibcm-umad ibcm-transport"
        "" "")

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.md")
