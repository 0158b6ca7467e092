# tests/: Check suites (listed in tests/suites.def) and end-to-end scripts.
tests_check_stepstone_SOURCES += tests/check_status.c
