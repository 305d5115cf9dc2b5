// The translation unit that builds tests/CMakeLists.txt's precompiled header
// (guestflow_test_pch), which every test binary reuses. Nothing of its own.
