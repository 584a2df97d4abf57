/* textdiff.c — see textdiff.h. */
#include "textdiff.h"

#include <glib.h>
#include <string.h>

#define S_MAX_CELLS (4u * 1024 * 1024)

typedef struct {
    char op;     /* ' ', '-', '+' */
    size_t a, b; /* line index in a (for ' ' and '-') and in b (for ' ' and '+') */
} s_edit;

/* Lines without their newline; a final empty piece (after the last newline) is dropped. */
static char **s_lines(const char *text, size_t *ret_n)
{
    char **v = g_strsplit(text ? text : "", "\n", -1);
    size_t n = g_strv_length(v);
    if (n > 0 && v[n - 1][0] == '\0') {
        g_free(v[n - 1]);
        v[n - 1] = NULL;
        n--;
    }
    *ret_n = n;
    return v;
}

/* The edit script between a[lo_a..hi_a) and b[lo_b..hi_b) appended to out: LCS by dynamic
 * programming over the suffixes, then one walk from the front. */
static void s_middle(char **a, size_t lo_a, size_t hi_a, char **b, size_t lo_b, size_t hi_b,
                     GArray *out)
{
    size_t n = hi_a - lo_a, m = hi_b - lo_b;
    if (n == 0 || m == 0 || (n + 1) * (m + 1) > S_MAX_CELLS) {
        for (size_t i = 0; i < n; i++)
            g_array_append_val(out, ((s_edit){'-', lo_a + i, lo_b}));
        for (size_t j = 0; j < m; j++)
            g_array_append_val(out, ((s_edit){'+', hi_a, lo_b + j}));
        return;
    }
    guint32 *t = g_new0(guint32, (n + 1) * (m + 1)); /* t[i][j]: LCS of a[i..], b[j..] */
#define T(i, j) t[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            T(i, j) = strcmp(a[lo_a + i], b[lo_b + j]) == 0 ? T(i + 1, j + 1) + 1
                                                            : MAX(T(i + 1, j), T(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && strcmp(a[lo_a + i], b[lo_b + j]) == 0) {
            g_array_append_val(out, ((s_edit){' ', lo_a + i, lo_b + j}));
            i++, j++;
        } else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1))) { /* deletions first */
            g_array_append_val(out, ((s_edit){'-', lo_a + i, lo_b + j}));
            i++;
        } else {
            g_array_append_val(out, ((s_edit){'+', lo_a + i, lo_b + j}));
            j++;
        }
    }
#undef T
    g_free(t);
}

/* "l,s", or "l" for one line (as GNU diff writes it). */
static void s_range(GString *s, size_t start, size_t count)
{
    if (count == 1)
        g_string_append_printf(s, "%zu", start);
    else
        g_string_append_printf(s, "%zu,%zu", start, count);
}

/* "@@ -l,s +l,s @@" for edits [from, to), then the lines. */
static void s_hunk(GString *s, const s_edit *e, size_t from, size_t to, char **a, char **b)
{
    size_t na = 0, nb = 0;
    for (size_t k = from; k < to; k++) {
        na += e[k].op != '+';
        nb += e[k].op != '-';
    }
    /* unified format: a range of 0 lines names the line before it */
    size_t sa = na ? e[from].a + 1 : e[from].a, sb = nb ? e[from].b + 1 : e[from].b;
    g_string_append(s, "@@ -");
    s_range(s, sa, na);
    g_string_append(s, " +");
    s_range(s, sb, nb);
    g_string_append(s, " @@\n");
    for (size_t k = from; k < to; k++)
        g_string_append_printf(s, "%c%s\n", e[k].op, e[k].op == '+' ? b[e[k].b] : a[e[k].a]);
}

char *drv_textdiff_unified(const char *ta, const char *tb, const char *label_a, const char *label_b,
                           unsigned context)
{
    size_t n = 0, m = 0;
    char **a = s_lines(ta, &n), **b = s_lines(tb, &m);
    size_t head = 0, tail = 0;
    while (head < n && head < m && strcmp(a[head], b[head]) == 0)
        head++;
    while (tail < n - head && tail < m - head && strcmp(a[n - 1 - tail], b[m - 1 - tail]) == 0)
        tail++;
    GArray *ed = g_array_new(FALSE, FALSE, sizeof(s_edit));
    for (size_t i = 0; i < head; i++)
        g_array_append_val(ed, ((s_edit){' ', i, i}));
    s_middle(a, head, n - tail, b, head, m - tail, ed);
    for (size_t k = 0; k < tail; k++)
        g_array_append_val(ed, ((s_edit){' ', n - tail + k, m - tail + k}));

    GString *s = g_string_new(NULL);
    const s_edit *e = (const s_edit *)(void *)ed->data;
    size_t len = ed->len, k = 0;
    while (k < len) {
        while (k < len && e[k].op == ' ')
            k++;
        if (k == len)
            break;
        if (s->len == 0)
            g_string_append_printf(s, "--- %s\n+++ %s\n", label_a, label_b);
        size_t from = k > context ? k - context : 0, last = k; /* last change seen */
        for (size_t q = k; q < len; q++) {
            if (e[q].op != ' ')
                last = q;
            else if (q - last > 2 * (size_t)context)
                break;
        }
        size_t to = MIN(len, last + 1 + context);
        s_hunk(s, e, from, to, a, b);
        k = to;
    }
    g_array_unref(ed);
    g_strfreev(a);
    g_strfreev(b);
    return g_string_free(s, FALSE);
}
