/* names.c — see names.h. */
#include "names.h"

#include <glib.h>
#include <string.h>

const char *drv_name_invalid(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return "it is empty";
    size_t len = strlen(s);
    if (len > DRV_NAME_MAX)
        return "it is longer than 64 bytes";
    if (!g_utf8_validate(s, (gssize)len, NULL))
        return "it is not valid UTF-8";
    for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
        gunichar ch = g_utf8_get_char(p);
        if (g_unichar_iscntrl(ch) || ch == 0x2028 || ch == 0x2029)
            return "it contains a control character";
        if (ch == '/')
            return "it contains '/'";
    }
    if (g_unichar_isspace(g_utf8_get_char(s)) ||
        g_unichar_isspace(g_utf8_get_char(g_utf8_prev_char(s + len))))
        return "it has leading or trailing whitespace";
    if (s[0] == '.' || s[0] == '~')
        return "it starts with '.' or '~'";
    return NULL;
}
