# webhook_receiver: an HTTP server on a loopback port that records webhook
# POSTs, answers from a script and verifies guestflow's HMAC-SHA256 signature
# on its own (tests/support/webhook_receiver.h). Linked into every cloud test.
add_library(webhook_receiver STATIC ${CMAKE_CURRENT_LIST_DIR}/webhook_receiver.cc)
target_include_directories(webhook_receiver PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(webhook_receiver
  PRIVATE absl::synchronization absl::strings absl::time PkgConfig::CPP_HTTPLIB
          OpenSSL::Crypto Threads::Threads guestflow_cxx_settings)
