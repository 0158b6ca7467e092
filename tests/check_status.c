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

/* ss_escape: what a terminal would act on becomes \xNN; text stays. */
START_TEST(test_escape)
{
    char out[SS_ESCAPE_SIZE];
    const char title[] = "\x1b]0;title\x07ssh";
    ck_assert_str_eq(ss_escape(out, sizeof(out), title, strlen(title)), "\\x1b]0;title\\x07ssh");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "plain ascii", 11), "plain ascii");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "a\\b", 3), "a\\\\b");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "a\0b", 3), "a\\x00b");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\x7f\r\n", 3), "\\x7f\\x0d\\x0a");
    /* valid UTF-8 is kept: e-acute, the euro sign, an emoji */
    const char utf[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    ck_assert_str_eq(ss_escape(out, sizeof(out), utf, strlen(utf)), utf);
    /* invalid UTF-8, overlong forms, surrogates and C1 controls are not */
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\xff\xfe", 2), "\\xff\\xfe");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\xc3", 1), "\\xc3"); /* cut sequence */
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\xc0\xaf", 2), "\\xc0\\xaf");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\xed\xa0\x80", 3), "\\xed\\xa0\\x80");
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\xc2\x9b" "2J", 4), "\\xc2\\x9b2J"); /* CSI */
    ck_assert_str_eq(ss_escape(out, sizeof(out), "\x9b", 1), "\\x9b");
    /* a long input is cut at a piece boundary, marked, and NUL-terminated */
    char big[300];
    memset(big, '\x1b', sizeof(big));
    ss_escape(out, sizeof(out), big, sizeof(big));
    ck_assert_uint_lt(strlen(out), sizeof(out));
    ck_assert_str_eq(out + strlen(out) - 3, "...");
    ck_assert_uint_eq((strlen(out) - 3) % 4, 0);
    char tiny[8];
    ck_assert_str_eq(ss_escape(tiny, sizeof(tiny), "abcdefghij", 10), "abcd...");
    ck_assert_str_eq(ss_escape(tiny, sizeof(tiny), "abcdefgh", 8), "abcd...");
    ck_assert_str_eq(ss_escape(tiny, sizeof(tiny), "abcdefg", 7), "abcdefg");
    ck_assert_str_eq(ss_escape(tiny, sizeof(tiny), "", 0), "");
}
END_TEST

Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_errf_formats_and_returns_code);
    tcase_add_test(tc, test_status_strings_distinct);
    tcase_add_test(tc, test_escape);
    suite_add_tcase(s, tc);
    return s;
}
