/* textdiff.h — a unified diff of two texts, line by line (`diff -u` format), for showing how two
 * revisions of a domain definition differ. Pure. */
#ifndef DROVER_TEXTDIFF_H
#define DROVER_TEXTDIFF_H

/* The unified diff turning text a into text b, with `context` unchanged lines around each change,
 * headed "--- label_a" / "+++ label_b"; "" when the texts are equal line for line. A missing final
 * newline is not a difference. The edit is a longest common subsequence of lines after the common
 * head and tail are set aside; when what is left is too large for that (over 4 million line pairs)
 * it is shown as one replaced block. Owned (g_free). */
char *drv_textdiff_unified(const char *a, const char *b, const char *label_a, const char *label_b,
                           unsigned context);

#endif
