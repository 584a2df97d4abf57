/* msgfill.c — see msgfill.h. */
#include "msgfill.h"

#include <string.h>

struct msgfill {
    GPtrArray *allocs; /* everything built, freed with g_free */
    uint32_t counter;
};

msgfill *msgfill_new(uint32_t seed)
{
    msgfill *self = g_new0(msgfill, 1);
    self->allocs = g_ptr_array_new_with_free_func(g_free);
    self->counter = seed;
    return self;
}

void msgfill_destroy(msgfill **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_ptr_array_free((*self_p)->allocs, TRUE);
    g_free(*self_p);
    *self_p = NULL;
}

static void *s_alloc(msgfill *self, size_t size)
{
    void *p = g_malloc0(size ? size : 1);
    g_ptr_array_add(self->allocs, p);
    return p;
}

size_t msgfill_body_cases(Drover__Envelope__BodyCase *cases, size_t max)
{
    const ProtobufCMessageDescriptor *d = &drover__envelope__descriptor;
    size_t n = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (!(d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        if (n < max)
            cases[n] = (Drover__Envelope__BodyCase)d->fields[i].id;
        n++;
    }
    return n;
}

static size_t s_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    }
    return 0;
}

static void s_fill_message(msgfill *self, ProtobufCMessage *m, uint32_t oneof_choice);

/* Writes one non-default value of field f's type at p. */
static void s_fill_value(msgfill *self, const ProtobufCFieldDescriptor *f, void *p)
{
    uint32_t k = ++self->counter;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *)p = -(int32_t)(1000 + k % 100000); /* negative: 10-byte varint for int32 */
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *)p = 0x80000000u + k;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *)p = -((int64_t)1 << 40) - k;
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *)p = 0x8000000000000000ull + k;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)p = 1.5f + (float)(k % 1000);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)p = 2.25 + (double)k;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = 1;
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        int v = 0;
        for (unsigned i = 0; i < e->n_values && v == 0; i++)
            v = e->values[(i + k) % e->n_values].value;
        *(int *)p = v;
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char *s = g_strdup_printf("%s-%u \"héllo\"\n<x/>", f->name, k);
        g_ptr_array_add(self->allocs, s);
        *(char **)p = s;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        b->len = 5 + k % 7;
        b->data = s_alloc(self, b->len);
        for (size_t i = 0; i < b->len; i++)
            b->data[i] = (uint8_t)(i * 37 + k); /* includes NUL and high bytes */
        b->data[0] = 0;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *d = f->descriptor;
        ProtobufCMessage *sub = s_alloc(self, d->sizeof_message);
        d->message_init(sub);
        s_fill_message(self, sub, 0);
        *(ProtobufCMessage **)p = sub;
        break;
    }
    }
}

/* Fills every field of m; for a oneof, the member with id oneof_choice (0: the first member). */
static void s_fill_message(msgfill *self, ProtobufCMessage *m, uint32_t oneof_choice)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *member = (char *)m + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *oneof_case = (uint32_t *)((char *)m + f->quantifier_offset);
            if (oneof_choice != 0 ? f->id != oneof_choice : *oneof_case != 0)
                continue;
            *oneof_case = f->id;
            s_fill_value(self, f, member);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = 2, sz = s_elem_size(f);
            char *arr = s_alloc(self, n * sz);
            for (size_t j = 0; j < n; j++)
                s_fill_value(self, f, arr + j * sz);
            *(size_t *)((char *)m + f->quantifier_offset) = n;
            *(void **)member = arr;
        } else {
            if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
                f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
                *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
            s_fill_value(self, f, member);
        }
    }
}

Drover__Envelope *msgfill_envelope(msgfill *self, Drover__Envelope__BodyCase body_case)
{
    Drover__Envelope *env = s_alloc(self, sizeof(*env));
    drover__envelope__init(env);
    s_fill_message(self, &env->base, (uint32_t)body_case);
    env->version = 0;
    return env;
}

/* Compares one value of field f at pa / pb; returns an owned description or NULL. */
static char *s_diff_value(const ProtobufCFieldDescriptor *f, const void *pa, const void *pb,
                          const char *path)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        if (*(const int32_t *)pa != *(const int32_t *)pb)
            return g_strdup_printf("%s: %d != %d", path, *(const int32_t *)pa,
                                   *(const int32_t *)pb);
        return NULL;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (*(const uint32_t *)pa != *(const uint32_t *)pb)
            return g_strdup_printf("%s: %u != %u", path, *(const uint32_t *)pa,
                                   *(const uint32_t *)pb);
        return NULL;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (*(const uint64_t *)pa != *(const uint64_t *)pb)
            return g_strdup_printf("%s: %" G_GUINT64_FORMAT " != %" G_GUINT64_FORMAT, path,
                                   *(const uint64_t *)pa, *(const uint64_t *)pb);
        return NULL;
    case PROTOBUF_C_TYPE_FLOAT:
        if (memcmp(pa, pb, sizeof(float)) != 0)
            return g_strdup_printf("%s: float differs", path);
        return NULL;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (memcmp(pa, pb, sizeof(double)) != 0)
            return g_strdup_printf("%s: double differs", path);
        return NULL;
    case PROTOBUF_C_TYPE_BOOL:
        if (!*(const protobuf_c_boolean *)pa != !*(const protobuf_c_boolean *)pb)
            return g_strdup_printf("%s: bool differs", path);
        return NULL;
    case PROTOBUF_C_TYPE_STRING: {
        const char *a = *(char *const *)pa, *b = *(char *const *)pb;
        if (g_strcmp0(a ? a : "", b ? b : "") != 0)
            return g_strdup_printf("%s: '%s' != '%s'", path, a, b);
        return NULL;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *a = pa, *b = pb;
        if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
            return g_strdup_printf("%s: bytes differ (%zu vs %zu bytes)", path, a->len, b->len);
        return NULL;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *a = *(ProtobufCMessage *const *)pa;
        const ProtobufCMessage *b = *(ProtobufCMessage *const *)pb;
        if (a == NULL || b == NULL)
            return a == b ? NULL : g_strdup_printf("%s: message set on one side only", path);
        char *d = msgfill_diff(a, b);
        if (d == NULL)
            return NULL;
        char *out = g_strdup_printf("%s.%s", path, d);
        g_free(d);
        return out;
    }
    }
    return g_strdup_printf("%s: unknown type", path);
}

char *msgfill_diff(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (b->descriptor != d)
        return g_strdup_printf("%s vs %s", d->name, b->descriptor->name);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *ma = (const char *)a + f->offset, *mb = (const char *)b + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t ca = *(const uint32_t *)((const char *)a + f->quantifier_offset);
            uint32_t cb = *(const uint32_t *)((const char *)b + f->quantifier_offset);
            if (ca != cb)
                return g_strdup_printf("%s: oneof case %u != %u", f->name, ca, cb);
            if (ca != f->id)
                continue;
            char *r = s_diff_value(f, ma, mb, f->name);
            if (r)
                return r;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na = *(const size_t *)((const char *)a + f->quantifier_offset);
            size_t nb = *(const size_t *)((const char *)b + f->quantifier_offset);
            if (na != nb)
                return g_strdup_printf("%s: %zu != %zu elements", f->name, na, nb);
            size_t sz = s_elem_size(f);
            for (size_t j = 0; j < na; j++) {
                g_autofree char *path = g_strdup_printf("%s[%zu]", f->name, j);
                char *r =
                    s_diff_value(f, *(char *const *)ma + j * sz, *(char *const *)mb + j * sz, path);
                if (r)
                    return r;
            }
        } else {
            char *r = s_diff_value(f, ma, mb, f->name);
            if (r)
                return r;
        }
    }
    return NULL;
}

/* True when the value of field f at p is the type's default (zero / empty / unset). */
static bool s_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    static const uint8_t zero[16];
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s == NULL || *s == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    default:
        return memcmp(p, zero, s_elem_size(f)) == 0;
    }
}

char *msgfill_first_default(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *member = (const char *)m + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
        }
        size_t n = 1;
        const char *arr = member;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            if (n == 0)
                return g_strdup_printf("%s.%s (empty list)", d->short_name, f->name);
            arr = *(char *const *)member;
        }
        for (size_t j = 0; j < n; j++) {
            const char *p = arr + j * s_elem_size(f);
            if (s_is_default(f, p))
                return g_strdup_printf("%s.%s", d->short_name, f->name);
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                char *r = msgfill_first_default(*(ProtobufCMessage *const *)p);
                if (r)
                    return r;
            }
        }
    }
    return NULL;
}
