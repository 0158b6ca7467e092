/* check_ptrmap.c - tests for src/ptrmap.c against a plain array: random
 * inserts, finds and deletes, with colliding hashes. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "ptrmap.h"

typedef struct item {
    uint64_t key;
    int live;
} item;

static int item_eq(const void *val, const void *key)
{
    return ((const item *)val)->key == *(const uint64_t *)key;
}

/* Few distinct hashes, so probe runs are long and deletions shift them. */
static uint64_t weak_hash(uint64_t key)
{
    return (key * 0x9e3779b97f4a7c15ULL) >> 59;
}

START_TEST(test_random_against_array)
{
    enum { N = 3000 };
    item *items = calloc(N, sizeof(*items));
    ck_assert_ptr_nonnull(items);
    for (uint64_t i = 0; i < N; i++)
        items[i].key = i * 7919 + 13;
    ptrmap m;
    ck_assert_int_eq(ptrmap_init(&m, 8), 0);
    uint64_t x = 88172645463325252ULL;
    size_t live = 0;
    for (int step = 0; step < 200000; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        item *it = &items[x % N];
        size_t slot = ptrmap_find(&m, weak_hash(it->key), item_eq, &it->key);
        /* found exactly when live, and the value is the item itself */
        ck_assert_int_eq(m.val[slot] != NULL, it->live);
        if (it->live) {
            ck_assert_ptr_eq(m.val[slot], it);
            ptrmap_del(&m, slot);
            it->live = 0;
            live--;
        } else {
            ck_assert_int_eq(ptrmap_put(&m, weak_hash(it->key), it), 0);
            it->live = 1;
            live++;
        }
        ck_assert_uint_eq(m.n, live);
        ck_assert_uint_le(2 * m.n, m.cap);
    }
    /* every item agrees at the end */
    for (size_t i = 0; i < N; i++) {
        size_t slot = ptrmap_find(&m, weak_hash(items[i].key), item_eq, &items[i].key);
        ck_assert_int_eq(m.val[slot] != NULL, items[i].live);
    }
    ptrmap_free(&m);
    ptrmap_free(&m); /* zeroed: safe */
    free(items);
}
END_TEST

Suite *ptrmap_suite(void)
{
    Suite *s = suite_create("ptrmap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_random_against_array);
    suite_add_tcase(s, tc);
    return s;
}
