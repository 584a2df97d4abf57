/* msgfill.h — test helper: builds drover envelopes whose every field (in every nested message)
 * holds a non-default value, walking protobuf-c's descriptors so a field added to drover.proto is
 * covered without editing the tests; and compares two messages field by field. */
#ifndef DROVER_TESTS_MSGFILL_H
#define DROVER_TESTS_MSGFILL_H

#include "codec.h"

#include <stddef.h>
#include <stdint.h>

typedef struct msgfill msgfill;

/* An arena that owns everything the builders allocate; values derive from seed. */
msgfill *msgfill_new(uint32_t seed);
void msgfill_destroy(msgfill **self_p);

/* Number of message types in the Envelope's oneof; fills cases (up to max) with their case values.
 */
size_t msgfill_body_cases(Drover__Envelope__BodyCase *cases, size_t max);

/* An envelope (owned by the arena) whose body is body_case, every field filled, repeated fields
 * holding two elements. version is left 0 (drv_codec_pack sets it). */
Drover__Envelope *msgfill_envelope(msgfill *self, Drover__Envelope__BodyCase body_case);

/* NULL when a and b (same descriptor) hold the same values, else an owned string (g_free) naming
 * the first differing field path and both values. */
char *msgfill_diff(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* NULL when every field of m (recursively; unset oneof members excepted) holds a non-default value,
 * else an owned string naming the first field left at its default. */
char *msgfill_first_default(const ProtobufCMessage *m);

#endif
