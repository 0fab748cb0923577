/*
 * shipper.kernels._forward: forward messages straight from their msgpack bytes into records.
 *
 * records(packed, tag, message_keys, max_entries, finish) -> list | None
 *
 * `packed` is the msgpack stream of `[time, record]` entries a PackedForward message carries (after
 * gunzip, for CompressedPackedForward). The kernel takes the stream only when every entry has the
 * shape forward clients send (Fluent Bit, Fluentd, the Docker driver's packed mode):
 *   - an array of two: the time, then the record;
 *   - the time an EventTime (fixext 8, type 0), perhaps in Fluent Bit 2+'s `[time, {}]` form with an
 *     empty metadata map, or an unsigned integer of seconds below 2^40;
 *   - the record a map of at most MAX_PAIRS pairs whose keys are text and whose values are text, nil,
 *     booleans, integers or floats, all text valid UTF-8 (strict: no surrogates), in which one of
 *     `message_keys` holds text and no name of `message_keys` stands twice;
 * and at most `max_entries` entries. Then it returns [(time_ns, message, fields), ...]: the message
 * from the first of `message_keys` the record holds text under, the fields the record's other pairs
 * in order, as `finish(dict)` makes them (the tag and the reserved names: sources/forward/records.py).
 * Records whose other pairs are the same bytes share one fields mapping (up to CACHED distinct ones a
 * call: `finish` is called once each). Anything else returns None and the reference decodes the
 * stream (protocol.add_packed_entries, records.records_of), so the results are equal by construction:
 * tests/kernels/test_forward.py holds the two equal on any stream.
 *
 * messages(data, message_keys, finish) -> (groups, consumed, whole)
 *
 * Message mode, `[tag, time, record]` or `[tag, time, record, option]` (one record a message, as
 * Docker's driver sends), from the start of `data` (the bytes a connection sent, as read): each
 * message whose time and record are as above (the time alone: `[tag, [time, {}], ...]` is Forward
 * mode) and whose option is nil or a map of text keys to scalars with `chunk`, if there, text of at most
 * MAX_CHUNK code points. Groups are (tag, chunk or None, records, end): records of one tag, a group
 * ending at each message with a chunk id (its ack goes once the group is stored); `end` is the offset
 * after the group's last message. It stops at the first message it does not take, or one the bytes cut
 * short (`whole` is then 0); `consumed` is where it stopped. sources/forward/framing.py gives the rest
 * to msgpack's stream decoder, and tests/sources/test_forward_framing.py holds the two ways equal.
 *
 * Bounds: every read goes through `need(cursor, n)`, which checks that n more bytes remain before
 * `end` (the length of `packed`, read once; a bytes object cannot change); lengths read from the
 * stream are 32 bits at most and compared against the bytes left before any use.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_PAIRS 256 /* pairs of a record the kernel takes; a longer map goes to the reference */
#define CACHED 8      /* distinct fields mappings remembered within one call */
#define MAX_KEYS 8    /* message_keys the kernel takes; more goes to the reference */

typedef struct {
    const unsigned char *at;
    const unsigned char *end;
} Cursor;

typedef struct { /* a span of the stream: [start, start + length) */
    const unsigned char *start;
    Py_ssize_t length;
} Span;

typedef struct { /* one pair of a record, as spans of the stream */
    const unsigned char *start; /* its first byte: the key's header */
    Span key;                   /* the key's text */
    Span value;                 /* the whole encoded value, its header included */
    Span text;                  /* for a text value: its text, else length -1 */
} Pair;

typedef struct {
    PyObject *tag;    /* the tag the fields carry (compared by identity: see Work.tag) */
    PyObject *span;   /* bytes: the record's other pairs, as sent */
    PyObject *fields; /* what finish made of them */
} Remembered;

static int need(const Cursor *c, Py_ssize_t n) { return n >= 0 && c->end - c->at >= n; }

static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* The text header at the cursor: its bytes' span, the cursor moved past them; 0 if not text or cut. */
static int read_text(Cursor *c, Span *text)
{
    if (!need(c, 1))
        return 0;
    unsigned char head = c->at[0];
    Py_ssize_t header, length;
    if (head >= 0xa0 && head <= 0xbf) {
        header = 1, length = head & 0x1f;
    } else if (head == 0xd9 && need(c, 2)) {
        header = 2, length = c->at[1];
    } else if (head == 0xda && need(c, 3)) {
        header = 3, length = (Py_ssize_t)be16(c->at + 1);
    } else if (head == 0xdb && need(c, 5)) {
        header = 5, length = (Py_ssize_t)be32(c->at + 1);
    } else {
        return 0;
    }
    if (!need(c, header + length)) /* header + length <= 5 + 2^32: no overflow in Py_ssize_t */
        return 0;
    text->start = c->at + header;
    text->length = length;
    c->at += header + length;
    return 1;
}

/* A scalar value at the cursor (text, nil, booleans, integers, floats): its span, and its text's; 0 if
 * it is anything else or cut. */
static int read_value(Cursor *c, Pair *pair)
{
    if (!need(c, 1))
        return 0;
    const unsigned char *start = c->at;
    unsigned char head = start[0];
    pair->text.length = -1;
    if ((head >= 0xa0 && head <= 0xbf) || (head >= 0xd9 && head <= 0xdb)) {
        if (!read_text(c, &pair->text))
            return 0;
    } else {
        Py_ssize_t size;
        if (head <= 0x7f || head >= 0xe0 || head == 0xc0 || head == 0xc2 || head == 0xc3)
            size = 1;
        else if (head == 0xcc || head == 0xd0)
            size = 2;
        else if (head == 0xcd || head == 0xd1)
            size = 3;
        else if (head == 0xce || head == 0xd2 || head == 0xca)
            size = 5;
        else if (head == 0xcf || head == 0xd3 || head == 0xcb)
            size = 9;
        else
            return 0;
        if (!need(c, size))
            return 0;
        c->at += size;
    }
    pair->value.start = start;
    pair->value.length = c->at - start;
    return 1;
}

/* A time at the cursor in ns, the cursor moved past it; -1 if the kernel does not take it. */
static int64_t read_moment(Cursor *c)
{
    if (need(c, 10) && c->at[0] == 0xd7 && c->at[1] == 0x00) { /* EventTime: seconds, nanoseconds */
        uint64_t seconds = be32(c->at + 2), nanoseconds = be32(c->at + 6);
        c->at += 10;
        if (nanoseconds > 999999999)
            nanoseconds = 999999999;
        return (int64_t)(seconds * 1000000000u + nanoseconds); /* < 2^32 * 10^9 + 10^9 < 2^63 */
    }
    uint64_t seconds;
    if (need(c, 1) && c->at[0] <= 0x7f) {
        seconds = c->at[0], c->at += 1;
    } else if (need(c, 2) && c->at[0] == 0xcc) {
        seconds = c->at[1], c->at += 2;
    } else if (need(c, 3) && c->at[0] == 0xcd) {
        seconds = be16(c->at + 1), c->at += 3;
    } else if (need(c, 5) && c->at[0] == 0xce) {
        seconds = be32(c->at + 1), c->at += 5;
    } else if (need(c, 9) && c->at[0] == 0xcf) {
        seconds = be64(c->at + 1), c->at += 9;
    } else {
        return -1;
    }
    /* the reference takes seconds below 2^40; their ns fit in int64 only below 2^63 / 10^9 */
    return seconds <= (uint64_t)INT64_MAX / 1000000000u ? (int64_t)(seconds * 1000000000u) : -1;
}

/* An entry's time in ns, perhaps in Fluent Bit 2+'s `[time, {}]` form (empty metadata only); -1 if the
 * kernel does not take it. */
static int64_t read_time(Cursor *c)
{
    if (!need(c, 1) || c->at[0] != 0x92)
        return read_moment(c);
    c->at += 1;
    int64_t ns = read_moment(c);
    if (ns < 0 || !need(c, 1) || c->at[0] != 0x80)
        return -1;
    c->at += 1;
    return ns;
}

/* The map header at the cursor: its count of pairs, or -1. */
static Py_ssize_t read_map(Cursor *c)
{
    if (need(c, 1) && c->at[0] >= 0x80 && c->at[0] <= 0x8f)
        return (Py_ssize_t)(*c->at++ & 0x0f);
    if (need(c, 3) && c->at[0] == 0xde) {
        Py_ssize_t count = (Py_ssize_t)be16(c->at + 1);
        c->at += 3;
        return count;
    }
    if (need(c, 5) && c->at[0] == 0xdf) {
        Py_ssize_t count = (Py_ssize_t)be32(c->at + 1);
        c->at += 5;
        return count;
    }
    return -1;
}

static int same(Span a, const char *b, Py_ssize_t length)
{
    return a.length == length && memcmp(a.start, b, (size_t)length) == 0; /* both spans hold `length` bytes */
}

/* A scalar value as Python makes it (msgpack's and msgspec's decoders agree on each); NULL with an
 * error set, or NULL without one when the text is not valid UTF-8 (the caller hands back). */
static PyObject *value_object(const Pair *pair)
{
    const unsigned char *p = pair->value.start; /* value.length bytes, its size checked by read_value */
    unsigned char head = p[0];
    if (pair->text.length >= 0) {
        PyObject *text = PyUnicode_DecodeUTF8((const char *)pair->text.start, pair->text.length, "strict");
        if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            PyErr_Clear();
        return text;
    }
    if (head <= 0x7f)
        return PyLong_FromLong(head);
    if (head >= 0xe0)
        return PyLong_FromLong((long)(int8_t)head);
    switch (head) {
    case 0xc0: Py_RETURN_NONE;
    case 0xc2: Py_RETURN_FALSE;
    case 0xc3: Py_RETURN_TRUE;
    case 0xcc: return PyLong_FromUnsignedLong(p[1]);
    case 0xcd: return PyLong_FromUnsignedLong(be16(p + 1));
    case 0xce: return PyLong_FromUnsignedLong(be32(p + 1));
    case 0xcf: return PyLong_FromUnsignedLongLong(be64(p + 1));
    case 0xd0: return PyLong_FromLong((int8_t)p[1]);
    case 0xd1: return PyLong_FromLong((int16_t)be16(p + 1));
    case 0xd2: return PyLong_FromLong((long)(int32_t)be32(p + 1));
    case 0xd3: return PyLong_FromLongLong((long long)(int64_t)be64(p + 1));
    case 0xca: {
        uint32_t bits = be32(p + 1);
        float value;
        memcpy(&value, &bits, sizeof value);
        return PyFloat_FromDouble((double)value);
    }
    case 0xcb: {
        uint64_t bits = be64(p + 1);
        double value;
        memcpy(&value, &bits, sizeof value);
        return PyFloat_FromDouble(value);
    }
    }
    PyErr_SetString(PyExc_SystemError, "a value read_value did not take"); /* unreachable */
    return NULL;
}

/* The fields mapping of a record's pairs but `chosen`, by `finish`; NULL with an error set, or NULL
 * without one when some text is not valid UTF-8. */
static PyObject *make_fields(const Pair *pairs, Py_ssize_t count, Py_ssize_t chosen, PyObject *finish,
                             PyObject *tag)
{
    PyObject *fields = PyDict_New();
    if (fields == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) { /* count <= MAX_PAIRS: the size of pairs */
        if (i == chosen)
            continue;
        PyObject *key = PyUnicode_DecodeUTF8((const char *)pairs[i].key.start, pairs[i].key.length, "strict");
        if (key == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                PyErr_Clear();
            Py_DECREF(fields);
            return NULL;
        }
        PyObject *value = value_object(&pairs[i]);
        int failed = value == NULL || PyDict_SetItem(fields, key, value) < 0;
        Py_DECREF(key);
        Py_XDECREF(value);
        if (failed) {
            Py_DECREF(fields);
            return NULL;
        }
    }
    PyObject *made = PyObject_CallFunctionObjArgs(finish, fields, tag, NULL);
    Py_DECREF(fields);
    return made;
}

/* Where the record's pairs but `chosen` lie: [pairs[0].start, cut_from) and [cut_to, end). */
typedef struct {
    const unsigned char *first, *cut_from, *cut_to, *end;
} Others;

static Others others_of(const Pair *pairs, Py_ssize_t count, Py_ssize_t chosen)
{
    /* pairs lie in order, end to start, in one buffer: 0 <= chosen < count */
    const Pair *last = &pairs[count - 1], *cut = &pairs[chosen];
    return (Others){pairs[0].start, cut->start, cut->value.start + cut->value.length,
                    last->value.start + last->value.length};
}

/* The bytes of a record's pairs but `chosen`, as sent. */
static PyObject *other_pairs(Others o)
{
    Py_ssize_t before = o.cut_from - o.first, after = o.end - o.cut_to;
    PyObject *span = PyBytes_FromStringAndSize(NULL, before + after);
    if (span == NULL)
        return NULL;
    memcpy(PyBytes_AS_STRING(span), o.first, (size_t)before); /* before + after bytes allocated */
    memcpy(PyBytes_AS_STRING(span) + before, o.cut_to, (size_t)after);
    return span;
}

static int same_other_pairs(PyObject *span, Others o)
{
    Py_ssize_t before = o.cut_from - o.first, after = o.end - o.cut_to;
    if (PyBytes_GET_SIZE(span) != before + after)
        return 0;
    const char *remembered = PyBytes_AS_STRING(span); /* before + after bytes: checked just above */
    return memcmp(remembered, o.first, (size_t)before) == 0 && memcmp(remembered + before, o.cut_to, (size_t)after) == 0;
}

typedef struct {
    Span keys[MAX_KEYS]; /* message_keys as UTF-8, borrowed from the tuple's strings */
    Py_ssize_t key_count;
    PyObject *finish;
    PyObject *tag;       /* the current tag (a new reference): made once per run of equal tags */
    Span tag_text;       /* its UTF-8, in the stream (message mode) */
    Remembered cache[CACHED];
    int used;  /* slots of the cache in use */
    int next;  /* the slot a new mapping takes once all are used */
    Pair pairs[MAX_PAIRS];
} Work;

/* The fields of the record whose other pairs are `o`: remembered, or made and remembered (a new
 * reference); NULL with an error set, or NULL without one to hand back. */
static PyObject *fields_of(Work *w, Py_ssize_t count, Py_ssize_t chosen, Others o)
{
    for (int i = 0; i < w->used; i++) /* i < used <= CACHED */
        if (w->cache[i].tag == w->tag && same_other_pairs(w->cache[i].span, o)) {
            Py_INCREF(w->cache[i].fields);
            return w->cache[i].fields;
        }
    PyObject *fields = make_fields(w->pairs, count, chosen, w->finish, w->tag);
    if (fields == NULL)
        return NULL;
    PyObject *span = other_pairs(o);
    if (span == NULL) {
        Py_DECREF(fields);
        return NULL;
    }
    int slot = w->used < CACHED ? w->used++ : w->next++ % CACHED;
    Py_XDECREF(w->cache[slot].tag);
    Py_XDECREF(w->cache[slot].span);
    Py_XDECREF(w->cache[slot].fields);
    w->cache[slot].tag = Py_NewRef(w->tag);
    w->cache[slot].span = span;
    Py_INCREF(fields);
    w->cache[slot].fields = fields;
    return fields;
}

/* The record map at the cursor, of time `ns`, into a record appended to `out`: 1, or 0 to hand back,
 * -1 on an error. */
static int take_record(Cursor *c, Work *w, int64_t ns, PyObject *out)
{
    Py_ssize_t count = read_map(c);
    if (count < 1 || count > MAX_PAIRS)
        return 0;
    Py_ssize_t chosen = -1, rank = MAX_KEYS;
    int seen[MAX_KEYS] = {0};
    for (Py_ssize_t i = 0; i < count; i++) { /* i < count <= MAX_PAIRS: the size of pairs */
        Pair *pair = &w->pairs[i];
        pair->start = c->at;
        if (!read_text(c, &pair->key) || !read_value(c, pair))
            return 0;
        for (Py_ssize_t k = 0; k < w->key_count; k++) { /* k < key_count <= MAX_KEYS */
            if (!same(pair->key, (const char *)w->keys[k].start, w->keys[k].length))
                continue;
            if (seen[k]++)
                return 0; /* a message key twice: the reference's dict keeps the last; it decides */
            if (pair->text.length >= 0 && k < rank)
                chosen = i, rank = k;
        }
    }
    if (chosen < 0)
        return 0; /* no message: the reference writes the record's JSON */
    const Pair *message = &w->pairs[chosen];
    PyObject *text = PyUnicode_DecodeUTF8((const char *)message->text.start, message->text.length, "strict");
    if (text == NULL)
        goto failed;
    PyObject *fields = fields_of(w, count, chosen, others_of(w->pairs, count, chosen));
    if (fields == NULL) {
        Py_DECREF(text);
        goto failed;
    }
    PyObject *time_ns = PyLong_FromLongLong(ns);
    PyObject *record = time_ns == NULL ? NULL : PyTuple_New(3);
    if (record == NULL) {
        Py_XDECREF(time_ns);
        Py_DECREF(text);
        Py_DECREF(fields);
        return -1;
    }
    PyTuple_SET_ITEM(record, 0, time_ns); /* the tuple takes each reference */
    PyTuple_SET_ITEM(record, 1, text);
    PyTuple_SET_ITEM(record, 2, fields);
    int appended = PyList_Append(out, record);
    Py_DECREF(record);
    return appended < 0 ? -1 : 1;
failed:
    if (PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear();
    return PyErr_Occurred() ? -1 : 0;
}

/* One `[time, record]` entry at the cursor into a record appended to `out`: as take_record. */
static int take_entry(Cursor *c, Work *w, PyObject *out)
{
    if (!need(c, 1) || c->at[0] != 0x92)
        return 0;
    c->at += 1;
    int64_t ns = read_time(c);
    return ns < 0 ? 0 : take_record(c, w, ns, out);
}

static void release(Work *w)
{
    for (int i = 0; i < w->used; i++) { /* i < used <= CACHED */
        Py_DECREF(w->cache[i].tag);
        Py_DECREF(w->cache[i].span);
        Py_DECREF(w->cache[i].fields);
    }
    Py_XDECREF(w->tag);
    PyMem_Free(w);
}

static int read_keys(PyObject *tuple, Work *w)
{
    if (!PyTuple_CheckExact(tuple) || PyTuple_GET_SIZE(tuple) > MAX_KEYS)
        return 0;
    w->key_count = PyTuple_GET_SIZE(tuple);
    for (Py_ssize_t k = 0; k < w->key_count; k++) { /* k < size <= MAX_KEYS */
        PyObject *key = PyTuple_GET_ITEM(tuple, k);
        if (!PyUnicode_CheckExact(key))
            return 0;
        Py_ssize_t length;
        const char *utf8 = PyUnicode_AsUTF8AndSize(key, &length);
        if (utf8 == NULL) {
            PyErr_Clear(); /* a key with a lone surrogate: no text the stream can hold matches it */
            return 0;
        }
        w->keys[k] = (Span){(const unsigned char *)utf8, length};
    }
    return 1;
}

static PyObject *records(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyBytes_CheckExact(args[0]) || !PyUnicode_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "records(packed: bytes, tag: str, message_keys, max_entries, finish)");
        return NULL;
    }
    Py_ssize_t max_entries = PyLong_AsSsize_t(args[3]);
    if (max_entries == -1 && PyErr_Occurred())
        return NULL;
    Work *w = PyMem_Calloc(1, sizeof(Work));
    if (w == NULL)
        return PyErr_NoMemory();
    PyObject *out = NULL;
    w->tag = Py_NewRef(args[1]);
    if (!read_keys(args[2], w))
        goto hand_back;
    w->finish = args[4];
    out = PyList_New(0);
    if (out == NULL)
        goto done;
    Cursor c = {(const unsigned char *)PyBytes_AS_STRING(args[0]), NULL};
    c.end = c.at + PyBytes_GET_SIZE(args[0]);
    while (c.at < c.end) {
        if (PyList_GET_SIZE(out) >= max_entries)
            goto hand_back; /* more entries than a message may hold: the reference refuses it */
        int taken = take_entry(&c, w, out);
        if (taken < 0) {
            Py_CLEAR(out);
            goto done;
        }
        if (taken == 0)
            goto hand_back;
    }
    goto done;
hand_back:
    Py_XDECREF(out);
    out = Py_NewRef(Py_None);
done:
    release(w);
    return out;
}

/* Skips one whole msgpack object at the cursor: 1, or 0 when the bytes end inside it (more must
 * come), or -1 when it is not msgpack the kernel can walk (a byte no type has, nesting past
 * MAX_DEPTH). Each element takes at least one byte, so a loop ends within the bytes left. */
#define MAX_DEPTH 32
static int skip_object(Cursor *c, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    if (!need(c, 1))
        return 0;
    unsigned char head = *c->at;
    Py_ssize_t header = 1, body = 0, items = 0; /* items: objects that follow (a map's twice its pairs) */
    if (head <= 0x7f || head >= 0xe0 || head == 0xc0 || head == 0xc2 || head == 0xc3) {
    } else if (head >= 0x80 && head <= 0x8f) {
        items = 2 * (head & 0x0f);
    } else if (head >= 0x90 && head <= 0x9f) {
        items = head & 0x0f;
    } else if (head >= 0xa0 && head <= 0xbf) {
        body = head & 0x1f;
    } else {
        switch (head) {
        case 0xc4: case 0xd9: header = 2; if (!need(c, 2)) return 0; body = c->at[1]; break;
        case 0xc5: case 0xda: header = 3; if (!need(c, 3)) return 0; body = be16(c->at + 1); break;
        case 0xc6: case 0xdb: header = 5; if (!need(c, 5)) return 0; body = be32(c->at + 1); break;
        case 0xc7: header = 3; if (!need(c, 2)) return 0; body = c->at[1]; break;
        case 0xc8: header = 4; if (!need(c, 3)) return 0; body = be16(c->at + 1); break;
        case 0xc9: header = 6; if (!need(c, 5)) return 0; body = be32(c->at + 1); break;
        case 0xca: case 0xce: case 0xd2: body = 4; break;
        case 0xcb: case 0xcf: case 0xd3: body = 8; break;
        case 0xcc: case 0xd0: body = 1; break;
        case 0xcd: case 0xd1: body = 2; break;
        case 0xd4: body = 2; break;
        case 0xd5: body = 3; break;
        case 0xd6: body = 5; break;
        case 0xd7: body = 9; break;
        case 0xd8: body = 17; break;
        case 0xdc: header = 3; if (!need(c, 3)) return 0; items = be16(c->at + 1); break;
        case 0xdd: header = 5; if (!need(c, 5)) return 0; items = be32(c->at + 1); break;
        case 0xde: header = 3; if (!need(c, 3)) return 0; items = 2 * (Py_ssize_t)be16(c->at + 1); break;
        case 0xdf: header = 5; if (!need(c, 5)) return 0; items = 2 * (Py_ssize_t)be32(c->at + 1); break;
        default: return -1; /* 0xc1: no type */
        }
    }
    if (!need(c, header + body)) /* header + body <= 6 + 2^32: no overflow in Py_ssize_t */
        return 0;
    c->at += header + body;
    for (Py_ssize_t i = 0; i < items; i++) { /* each item takes a byte at least: ends within the bytes */
        int skipped = skip_object(c, depth + 1);
        if (skipped != 1)
            return skipped;
    }
    return 1;
}

/* A message-mode message's option at the cursor: nil, or a map of text keys to scalars whose `chunk`,
 * if there, is text of at most MAX_CHUNK code points. 1 (`chunk` set to a new reference or left NULL),
 * 0 to hand back, -1 on an error. */
#define MAX_CHUNK 128
static int take_option(Cursor *c, PyObject **chunk)
{
    *chunk = NULL;
    if (need(c, 1) && c->at[0] == 0xc0) {
        c->at += 1;
        return 1;
    }
    Py_ssize_t count = read_map(c);
    if (count < 0 || count > 16)
        return 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        Span key;
        Pair value;
        if (!read_text(c, &key) || !read_value(c, &value))
            goto hand_back;
        if (!same(key, "chunk", 5))
            continue;
        if (*chunk != NULL || value.text.length < 0)
            goto hand_back; /* twice, or not text: the reference decides */
        *chunk = PyUnicode_DecodeUTF8((const char *)value.text.start, value.text.length, "strict");
        if (*chunk == NULL)
            goto hand_back;
        if (PyUnicode_GET_LENGTH(*chunk) > MAX_CHUNK)
            goto hand_back; /* the reference refuses the message */
    }
    return 1;
hand_back:
    Py_CLEAR(*chunk);
    if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        return -1;
    PyErr_Clear();
    return 0;
}

/* Whether `text` is the current tag's UTF-8. */
static int same_tag(const Work *w, Span text)
{
    return w->tag != NULL && w->tag_text.length == text.length
           && memcmp(w->tag_text.start, text.start, (size_t)text.length) == 0;
}

/* `text` as the current tag: 1, 0 to hand back (not UTF-8), -1 on an error. */
static int set_tag(Work *w, Span text)
{
    PyObject *tag = PyUnicode_DecodeUTF8((const char *)text.start, text.length, "strict");
    if (tag == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    Py_XSETREF(w->tag, tag);
    w->tag_text = text;
    return 1;
}

/* Appends (tag, chunk, records, end) to `groups`; a new list replaces *records. 0 on an error. */
static int close_group(PyObject *groups, Work *w, PyObject *chunk, PyObject **records, Py_ssize_t end)
{
    if (PyList_GET_SIZE(*records) == 0 && chunk == NULL)
        return 1;
    PyObject *group = Py_BuildValue("(OOOn)", w->tag, chunk ? chunk : Py_None, *records, end);
    if (group == NULL || PyList_Append(groups, group) < 0) {
        Py_XDECREF(group);
        return 0;
    }
    Py_DECREF(group);
    Py_SETREF(*records, PyList_New(0));
    return *records != NULL;
}

static PyObject *messages(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "messages(data: bytes, message_keys, finish)");
        return NULL;
    }
    Work *w = PyMem_Calloc(1, sizeof(Work));
    if (w == NULL)
        return PyErr_NoMemory();
    PyObject *groups = PyList_New(0), *records = PyList_New(0), *result = NULL;
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Cursor c = {data, data + PyBytes_GET_SIZE(args[0])};
    Py_ssize_t consumed = 0;
    int whole = 1; /* whether the bytes end at a message's end (else the last is cut short) */
    if (groups == NULL || records == NULL)
        goto done;
    w->finish = args[2];
    if (!read_keys(args[1], w))
        goto finished;
    while (c.at < c.end) {
        Cursor probe = c;
        int skipped = skip_object(&probe, 0);
        if (skipped == 0)
            whole = 0;
        if (skipped != 1)
            break;
        int taken = 0;
        PyObject *chunk = NULL;
        Py_ssize_t before = PyList_GET_SIZE(records);
        if (c.at[0] == 0x93 || c.at[0] == 0x94) { /* [tag, time, record] or [tag, time, record, option] */
            int with_option = c.at[0] == 0x94;
            Span text;
            c.at += 1;
            taken = read_text(&c, &text);
            if (taken && !same_tag(w, text)) { /* a group holds one tag: the last closes */
                if (!close_group(groups, w, NULL, &records, consumed))
                    goto done;
                before = 0;
                taken = set_tag(w, text);
            }
            if (taken == 1) { /* a time alone: [tag, [time, {}], ...] is Forward mode, entries in a list */
                int64_t ns = read_moment(&c);
                taken = ns < 0 ? 0 : take_record(&c, w, ns, records);
            }
            if (taken == 1 && with_option)
                taken = take_option(&c, &chunk);
            if (taken == 1 && c.at != probe.at)
                taken = 0; /* parts that end elsewhere than the object: never, checked anyway */
        }
        if (taken < 0)
            goto done;
        if (taken == 0) {
            Py_XDECREF(chunk);
            if (PyList_GET_SIZE(records) > before && PyList_SetSlice(records, before, PyList_GET_SIZE(records), NULL) < 0)
                goto done;
            break;
        }
        c = probe;
        consumed = c.at - data;
        if (chunk != NULL) {
            int closed = close_group(groups, w, chunk, &records, consumed);
            Py_DECREF(chunk);
            if (!closed)
                goto done;
        }
    }
finished:
    if (!close_group(groups, w, NULL, &records, consumed))
        goto done;
    result = Py_BuildValue("(Oni)", groups, consumed, whole);
done:
    Py_XDECREF(groups);
    Py_XDECREF(records);
    release(w);
    return result;
}

static PyMethodDef methods[] = {
    {"records", (PyCFunction)(void (*)(void))records, METH_FASTCALL,
     "A PackedForward stream's entries as records, or None when the reference must decode it."},
    {"messages", (PyCFunction)(void (*)(void))messages, METH_FASTCALL,
     "Message-mode messages from the start of `data` as (groups, consumed, whole)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_forward", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__forward(void) { return PyModule_Create(&module); }
