# Debian packages from the install components (cmake/install.cmake), with `cpack -G DEB` in the
# build directory: libibcm0 (the shared libraries), libibcm-dev (headers, CMake package, pkg-config
# files, docs; in a static build the static libraries), ibcm-tools (the ibcm command, man pages).
# Dependencies on system libraries come from dpkg-shlibdeps (Debian: dpkg-dev).
set(CPACK_PACKAGE_NAME ibcm)
set(CPACK_PACKAGE_VENDOR ibcm)
set(CPACK_PACKAGE_CONTACT "ibcm maintainers <ibcm@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "InfiniBand Communication Manager in user space")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The tool's own libraries are in this build, not yet in a package dpkg-shlibdeps knows.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_COMPONENTS_ALL dev tools)
if(BUILD_SHARED_LIBS)
  list(PREPEND CPACK_COMPONENTS_ALL runtime)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libibcm${IBCM_SOVERSION})
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
  set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
      "InfiniBand Communication Manager in user space: shared libraries\n The CM engine (sans I/O), simulator, events as text, transports, umad and verbs layers.")
  set(ibcm_runtime "libibcm${IBCM_SOVERSION} (= ${PROJECT_VERSION})")
  # The verbs headers include <infiniband/verbs.h>; ibcm-umad.pc requires libibumad (privately,
  # which pkg-config still needs to find).
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${ibcm_runtime}, libibverbs-dev, libibumad-dev")
  set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${ibcm_runtime}")
else()
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libibverbs-dev, libibumad-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libibcm-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "InfiniBand Communication Manager in user space: development files\n Headers, CMake package (find_package(ibcm)), pkg-config files, API reference.")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME ibcm-tools)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
    "InfiniBand Communication Manager in user space: the ibcm command\n Simulated fabric scenarios, MAD decoding, benchmarks, and a CM over UDP, RoCEv2 or a device.")
include(CPack)
