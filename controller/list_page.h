/* list_page.h — paging of a list the controller answers (`domain list`, `host list`): the items
 * sorted by their key (a name or a host id), a page starts after the key a previous page ended on
 * (`--continue KEY`, exclusive) and holds at most `limit` items (`--limit N`, 0 = all). When more
 * items follow, the page's last key is the token for the next page. Pure: no I/O, no model. */
#ifndef DROVER_CTL_LIST_PAGE_H
#define DROVER_CTL_LIST_PAGE_H

#include <glib.h>

typedef const char *(*ctl_page_key_fn)(gconstpointer item);

typedef struct {
    const char *after; /* start after this key (exclusive); NULL = from the first */
    guint limit;       /* at most this many items; 0 = no limit */
} ctl_page;

/* The page of `sorted` (items in strcmp order of key(item), as ctl_model_domains / hosts return
 * them): a new array of borrowed items. *ret_next (owned) = the key to continue from when items
 * remain after the page, else NULL. A token naming no item works too (the page starts at the
 * first key after it), so an item removed between two pages never breaks the listing. */
GPtrArray *ctl_page_apply(GPtrArray *sorted, ctl_page_key_fn key, const ctl_page *page,
                          char **ret_next);

#endif
