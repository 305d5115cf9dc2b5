add_library(smtp_peer STATIC ${CMAKE_CURRENT_LIST_DIR}/smtp_peer.cc)
target_include_directories(smtp_peer PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(smtp_peer PUBLIC GTest::gtest nlohmann_json::nlohmann_json
  PRIVATE guestflow_cxx_settings)
target_compile_definitions(smtp_peer PRIVATE
  SMTP_PEER_SCRIPT="${CMAKE_CURRENT_LIST_DIR}/smtp_peer.py")
