/* check_status.c - tests for status.c. */
#include <check.h>
#include <string.h>

#include "status.h"

START_TEST(test_errf_formats_and_returns_code)
{
    char buf[SS_ERRBUF_SIZE];
    int rc = ss_errf(buf, SS_ERR_IO, "%s: %d", "file.pcap", 7);
    ck_assert_int_eq(rc, SS_ERR_IO);
    ck_assert_str_eq(buf, "file.pcap: 7");
    ck_assert_int_eq(ss_errf(NULL, SS_ERR_ARG, "x"), SS_ERR_ARG);
}
END_TEST

START_TEST(test_status_strings_distinct)
{
    for (int a = SS_ERR_INTERNAL; a <= 0; a++)
        for (int b = a + 1; b <= 0; b++)
            ck_assert_str_ne(ss_status_to_string(a), ss_status_to_string(b));
    ck_assert_str_eq(ss_status_to_string(12345), "unknown error");
}
END_TEST

Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_errf_formats_and_returns_code);
    tcase_add_test(tc, test_status_strings_distinct);
    suite_add_tcase(s, tc);
    return s;
}
