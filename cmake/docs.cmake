# The API reference from the public headers (docs/Doxyfile.in), built with the rest and installed
# under the documentation directory as html/.
find_package(Doxygen REQUIRED)
set(IBCM_DOCS_DIR ${PROJECT_BINARY_DIR}/docs)
configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${IBCM_DOCS_DIR}/Doxyfile @ONLY)
file(GLOB_RECURSE IBCM_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/ibcm/*.h)
add_custom_command(OUTPUT ${IBCM_DOCS_DIR}/html/index.html
  COMMAND Doxygen::doxygen ${IBCM_DOCS_DIR}/Doxyfile
  DEPENDS ${IBCM_DOCS_DIR}/Doxyfile ${IBCM_PUBLIC_HEADERS} ${PROJECT_SOURCE_DIR}/docs/api.md
  COMMENT "Writing the API reference (Doxygen)")
add_custom_target(ibcm_docs ALL DEPENDS ${IBCM_DOCS_DIR}/html/index.html)
install(DIRECTORY ${IBCM_DOCS_DIR}/html DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
