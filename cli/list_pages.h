/* list_pages.h — `domain list` and `host list` without --limit: the CLI asks for the list in pages
 * (the controller pages by name, controller/api_list.c) and joins them, so a list of any size is
 * shown whole (one reply of 20,000 domains is over the 4 MiB frame limit: the controller refuses
 * it). Each page is a request of its own: an item defined or removed between two pages may be
 * missed or shown, as with any paged list; none is shown twice (pages follow the name order). */
#ifndef DROVER_CLI_LIST_PAGES_H
#define DROVER_CLI_LIST_PAGES_H

#include "client.h"

#include <stdbool.h>

/* Items asked for per page; the environment's DROVER_CLI_LIST_PAGE (1 or more) overrides it, so
 * that a test joins pages of a small list. */
#define DRV_CLI_LIST_PAGE 2000

/* The member holding the items of a list verb's answer ("domains", "hosts"), or NULL when verb is
 * not one the CLI pages. */
const char *drv_cli_list_items_key(const char *verb);

/* Calls req (a list verb whose user gave no --limit nor --continue) page by page on c and joins
 * the pages into one answer: the first page's document with every page's items and no `continue`.
 * On success *ret_json is that document (owned) and 0 is returned; otherwise the first page's
 * failure is returned as the reply in *ret_failed (owned; *ret_json NULL), or -1 with *err when no
 * answer came. */
int drv_cli_list_all(drv_cli_client *c, const drv_cli_request *req, char **ret_json,
                     drv_cli_reply **ret_failed, drv_error **err);

#endif
