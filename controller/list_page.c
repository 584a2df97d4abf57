/* list_page.c — see list_page.h. */
#include "list_page.h"

#include <string.h>

/* Index of the first item whose key is > after (binary search over the sorted keys). */
static guint s_first_after(GPtrArray *sorted, ctl_page_key_fn key, const char *after)
{
    guint lo = 0, hi = sorted->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (strcmp(key(g_ptr_array_index(sorted, mid)), after) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

GPtrArray *ctl_page_apply(GPtrArray *sorted, ctl_page_key_fn key, const ctl_page *page,
                          char **ret_next)
{
    *ret_next = NULL;
    guint start = page->after != NULL ? s_first_after(sorted, key, page->after) : 0;
    guint end = sorted->len;
    if (page->limit > 0 && end - start > page->limit)
        end = start + page->limit;
    GPtrArray *out = g_ptr_array_sized_new(end - start);
    for (guint i = start; i < end; i++)
        g_ptr_array_add(out, g_ptr_array_index(sorted, i));
    if (end < sorted->len && end > start)
        *ret_next = g_strdup(key(g_ptr_array_index(sorted, end - 1)));
    return out;
}
