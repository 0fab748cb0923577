/*
 * shipper.kernels._parse: `parse` with `format: json` over a block's records in one call, each record's
 * fields made as the JSON text the spool stores (no Python object per parsed value).
 *
 * json_objects(records, members, reserved, target, time_key, parse_time)
 *     -> (out, unparsed, untimed, handed_back) | NotImplemented
 *
 * records: the block's records (a list of (timestamp, message, fields) tuples). members: a function
 * giving a record's fields as JSON object members without the braces (b"" for none), or None when it
 * cannot; called once per distinct fields object. reserved: a tuple of the names (bytes) a parsed field
 * may not take, or None when it does not matter (`target` set). target: b'"name":' to nest the parsed
 * object under, or None. time_key: a top-level name (bytes) whose string value goes to parse_time, or
 * None.
 *
 * For each record, as Parse's reference (transforms/parse/transform.py) gives it once the spool has
 * stored and read it back:
 * - a message that is not exactly a str, or whose first byte after JSON blanks is not `{`: the record
 *   unchanged, counted unparsed (orjson would refuse it or give something other than an object);
 * - a message this kernel proves orjson reads as an object, within the limits below: a new record
 *   (time, message, fields) whose fields are the bytes `{<parsed members>,<record's members>}` (or
 *   `{<record's members>,"target":<object>}`). orjson reads duplicate names as one, the last value in
 *   the first place, which is exactly `dict.update`: the record's own fields win, in parsed order;
 * - anything else is handed back (its index in handed_back, the record unchanged in out) for the
 *   reference to decide: a message that is not valid UTF-8 (lone surrogates), invalid or doubtful JSON,
 *   a number with an exponent or more than 18 digits (orjson may read it as infinity, or as a float
 *   where the reference keeps an int), a \u escape of a surrogate, nesting deeper than 64, a top-level
 *   name with an escape or a reserved one, a time value that is not a plain string, fields `members`
 *   cannot write.
 * The proof is a strict RFC 8259 reader that only accepts: what it accepts, orjson reads, whatever
 * follows (tests/kernels/test_parse.py, and the fuzz target `parse_kernel` asserts it byte by byte).
 *
 * Bounds: every read of the text is guarded by `at < end` (a Text's `at` never passes `end`); the
 * output is written into a bytes object of the exact size computed from the spans copied into it.
 * `members` and `parse_time` are Python code and may change the records list: its size is read again
 * at every record, and the record, its message and its fields are held while they are used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_DEPTH 64   /* nesting this kernel reads; deeper goes to the reference (orjson reads 1024) */
#define MAX_DIGITS 18  /* digits of a number: up to 18, an integer fits 64 bits and a float is finite */
#define MEMBER_CACHE 8 /* distinct fields objects of a block whose members are kept for the call */

typedef struct {
    const unsigned char *at, *end; /* at <= end */
} Text;

/* What the top level of an object holds, as far as the output needs it. */
typedef struct {
    PyObject *reserved;                         /* tuple of bytes, or NULL */
    const char *time_key;                       /* or NULL */
    Py_ssize_t time_key_size;
    Py_ssize_t members;                         /* members seen */
    const unsigned char *time_start, *time_end; /* the last time_key value's span, or NULL */
} Top;

static int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void skip_blanks(Text *t)
{
    while (t->at < t->end && is_blank(*t->at))
        t->at++;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A string at t->at (its opening quote, which the caller saw: at < end); 1 and t->at past its closing
   quote, *escaped set when it holds a backslash; 0 to hand back. The bytes are valid UTF-8 (the str's
   own encoding), so only quotes, escapes and control characters need reading. */
static int string(Text *t, int *escaped)
{
    t->at++;
    while (t->at < t->end) {
        const unsigned char c = *t->at;
        if (c == '"') {
            t->at++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c != '\\') {
            t->at++;
            continue;
        }
        *escaped = 1;
        if (t->end - t->at < 2) /* the backslash and the escape's letter */
            return 0;
        const unsigned char letter = t->at[1];
        if (letter == 'u') {
            if (t->end - t->at < 6) /* \uXXXX: six bytes from at */
                return 0;
            int code = 0;
            for (int k = 2; k < 6; k++) { /* k < 6 <= end - at */
                const int digit = hex_value(t->at[k]);
                if (digit < 0)
                    return 0;
                code = code * 16 + digit;
            }
            if (code >= 0xD800 && code <= 0xDFFF) /* a surrogate: pairs and lone ones to the reference */
                return 0;
            t->at += 6;
        } else if (letter != 0 && strchr("\"\\/bfnrt", letter) != NULL) {
            t->at += 2; /* 2 <= end - at */
        } else {
            return 0;
        }
    }
    return 0;
}

/* A number at t->at (at < end): `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most MAX_DIGITS digits; an exponent
   is handed back. */
static int number(Text *t)
{
    int digits = 0;
    if (*t->at == '-')
        t->at++;
    if (t->at == t->end)
        return 0;
    if (*t->at == '0') {
        t->at++;
        digits = 1;
    } else if (*t->at >= '1' && *t->at <= '9') {
        while (t->at < t->end && is_digit(*t->at)) {
            t->at++;
            digits++;
        }
    } else {
        return 0;
    }
    if (t->at < t->end && *t->at == '.') {
        t->at++;
        int fraction = 0;
        while (t->at < t->end && is_digit(*t->at)) {
            t->at++;
            fraction++;
        }
        if (fraction == 0)
            return 0;
        digits += fraction;
    }
    if (t->at < t->end && (*t->at == 'e' || *t->at == 'E'))
        return 0;
    return digits <= MAX_DIGITS;
}

static int literal(Text *t, const char *word, Py_ssize_t size)
{
    if (t->end - t->at < size || memcmp(t->at, word, (size_t)size) != 0) /* size bytes are there */
        return 0;
    t->at += size;
    return 1;
}

static int object(Text *t, int depth, Top *top);
static int array(Text *t, int depth);

/* One JSON value at t->at; 1 and t->at past it, or 0 to hand back. */
static int value(Text *t, int depth)
{
    if (t->at == t->end)
        return 0;
    int escaped = 0;
    switch (*t->at) {
    case '"':
        return string(t, &escaped);
    case '{':
        return object(t, depth + 1, NULL);
    case '[':
        return array(t, depth + 1);
    case 't':
        return literal(t, "true", 4);
    case 'f':
        return literal(t, "false", 5);
    case 'n':
        return literal(t, "null", 4);
    default:
        return (*t->at == '-' || is_digit(*t->at)) && number(t);
    }
}

static int is_reserved(PyObject *reserved, const unsigned char *name, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(reserved); i++) { /* i < the tuple's size */
        PyObject *word = PyTuple_GET_ITEM(reserved, i);
        if (PyBytes_GET_SIZE(word) == size && memcmp(PyBytes_AS_STRING(word), name, (size_t)size) == 0)
            return 1;
    }
    return 0;
}

/* A top-level member: name [name, name + size), value [start, end). 0 to hand back. */
static int top_member(Top *top, const unsigned char *name, Py_ssize_t size, int escaped, const unsigned char *start,
                      const unsigned char *end)
{
    top->members++;
    if (escaped && (top->reserved != NULL || top->time_key != NULL)) /* its text is not its name */
        return 0;
    if (top->reserved != NULL && is_reserved(top->reserved, name, size))
        return 0;
    if (top->time_key != NULL && size == top->time_key_size && memcmp(name, top->time_key, (size_t)size) == 0) {
        top->time_start = start; /* the last one wins, as orjson reads it */
        top->time_end = end;
    }
    return 1;
}

/* An object at t->at (its `{`, at < end); `top` collects its members when it is the text's own. */
static int object(Text *t, int depth, Top *top)
{
    if (depth > MAX_DEPTH)
        return 0;
    t->at++;
    skip_blanks(t);
    if (t->at < t->end && *t->at == '}') {
        t->at++;
        return 1;
    }
    for (;;) {
        if (t->at == t->end || *t->at != '"')
            return 0;
        const unsigned char *name = t->at + 1;
        int escaped = 0;
        if (!string(t, &escaped))
            return 0;
        const Py_ssize_t name_size = (t->at - 1) - name; /* at is past the closing quote, which follows name */
        skip_blanks(t);
        if (t->at == t->end || *t->at != ':')
            return 0;
        t->at++;
        skip_blanks(t);
        const unsigned char *start = t->at;
        if (!value(t, depth))
            return 0;
        if (top != NULL && !top_member(top, name, name_size, escaped, start, t->at))
            return 0;
        skip_blanks(t);
        if (t->at == t->end)
            return 0;
        if (*t->at == '}') {
            t->at++;
            return 1;
        }
        if (*t->at != ',')
            return 0;
        t->at++;
        skip_blanks(t);
    }
}

static int array(Text *t, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    t->at++;
    skip_blanks(t);
    if (t->at < t->end && *t->at == ']') {
        t->at++;
        return 1;
    }
    for (;;) {
        if (!value(t, depth))
            return 0;
        skip_blanks(t);
        if (t->at == t->end)
            return 0;
        if (*t->at == ']') {
            t->at++;
            return 1;
        }
        if (*t->at != ',')
            return 0;
        t->at++;
        skip_blanks(t);
    }
}

/* The members of distinct fields objects, held for one call (identity is the key). */
typedef struct {
    PyObject *fields[MEMBER_CACHE], *members[MEMBER_CACHE]; /* members: bytes, or Py_None for "cannot" */
    int used, next;
} MemberCache;

static void cache_clear(MemberCache *cache)
{
    for (int i = 0; i < cache->used; i++) { /* i < used <= MEMBER_CACHE */
        Py_DECREF(cache->fields[i]);
        Py_DECREF(cache->members[i]);
    }
    cache->used = 0;
}

/* A new reference to the members of `fields` (bytes, or Py_None), or NULL with an exception. */
static PyObject *members_of(MemberCache *cache, PyObject *writer, PyObject *fields)
{
    for (int i = 0; i < cache->used; i++) /* i < used <= MEMBER_CACHE */
        if (cache->fields[i] == fields) {
            Py_INCREF(cache->members[i]);
            return cache->members[i];
        }
    PyObject *made = PyObject_CallOneArg(writer, fields);
    if (made == NULL)
        return NULL;
    if (!PyBytes_CheckExact(made)) {
        Py_DECREF(made);
        made = Py_NewRef(Py_None);
    }
    int slot = cache->used;
    if (slot == MEMBER_CACHE) { /* full: replace in turn */
        slot = cache->next;
        cache->next = (cache->next + 1) % MEMBER_CACHE;
        Py_DECREF(cache->fields[slot]);
        Py_DECREF(cache->members[slot]);
    } else {
        cache->used++;
    }
    cache->fields[slot] = Py_NewRef(fields);
    cache->members[slot] = Py_NewRef(made);
    return made;
}

enum { PARSED, UNPARSED, HANDED_BACK, FAILED };

typedef struct {
    PyObject *members_writer, *reserved, *target, *time_key, *parse_time;
    MemberCache cache;
    Py_ssize_t untimed;
} Call;

/* The fields bytes: {inner,members} or {members,"target":object}. */
static PyObject *fields_text(const Call *call, const unsigned char *object_start, const unsigned char *object_end,
                             Py_ssize_t parsed_members, PyObject *members)
{
    const Py_ssize_t members_size = PyBytes_GET_SIZE(members);
    const char *own = PyBytes_AS_STRING(members);
    const int comma = members_size > 0 && (call->target != NULL || parsed_members > 0);
    Py_ssize_t size;
    if (call->target == NULL)
        size = (object_end - object_start) + comma + members_size; /* the object's braces kept, its inner between */
    else
        size = 2 + members_size + comma + PyBytes_GET_SIZE(call->target) + (object_end - object_start);
    PyObject *text = PyBytes_FromStringAndSize(NULL, size);
    if (text == NULL)
        return NULL;
    char *out = PyBytes_AS_STRING(text);
    /* each copy below writes a part of the sum `size` was made of, in order: out stays within size */
    if (call->target == NULL) {
        const Py_ssize_t inner = (object_end - 1) - (object_start + 1); /* object_end - 1 is its `}` */
        *out++ = '{';
        memcpy(out, object_start + 1, (size_t)inner);
        out += inner;
        if (comma)
            *out++ = ',';
        memcpy(out, own, (size_t)members_size);
        out += members_size;
        *out = '}';
    } else {
        *out++ = '{';
        memcpy(out, own, (size_t)members_size);
        out += members_size;
        if (comma)
            *out++ = ',';
        memcpy(out, PyBytes_AS_STRING(call->target), (size_t)PyBytes_GET_SIZE(call->target));
        out += PyBytes_GET_SIZE(call->target);
        memcpy(out, object_start, (size_t)(object_end - object_start));
        out += object_end - object_start;
        *out = '}';
    }
    return text;
}

/* The record's time: a new reference to parse_time's result when it gives one, else to the record's
   own (counted untimed). NULL with an exception, or NULL without one to hand back. */
static PyObject *time_of(Call *call, const Top *top, PyObject *record_time)
{
    PyObject *value;
    if (top->time_start == NULL) {
        value = Py_NewRef(Py_None);
    } else {
        const unsigned char *start = top->time_start, *end = top->time_end;
        /* a string spans at least its two quotes: start < end - 1 when it is one */
        if (end - start < 2 || *start != '"' || memchr(start, '\\', (size_t)(end - start)) != NULL)
            return NULL;
        value = PyUnicode_DecodeUTF8((const char *)start + 1, (end - 1) - (start + 1), "strict");
        if (value == NULL)
            return NULL;
    }
    PyObject *parsed = PyObject_CallOneArg(call->parse_time, value);
    Py_DECREF(value);
    if (parsed == NULL)
        return NULL;
    if (parsed == Py_None) {
        Py_DECREF(parsed);
        call->untimed++;
        return Py_NewRef(record_time);
    }
    return parsed;
}

/* The record made from `record` (a tuple of three): *made is set to a new reference for PARSED. */
static int parse_one(Call *call, PyObject *record, PyObject **made)
{
    PyObject *message = PyTuple_GET_ITEM(record, 1); /* the caller checked the tuple has 3 items */
    if (!PyUnicode_CheckExact(message))
        return UNPARSED;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(message, &size);
    if (utf8 == NULL) {
        PyErr_Clear();
        return HANDED_BACK;
    }
    Text t = {(const unsigned char *)utf8, (const unsigned char *)utf8 + size};
    skip_blanks(&t);
    if (t.at == t.end || *t.at != '{')
        return UNPARSED;
    const unsigned char *object_start = t.at;
    Top top = {call->reserved, NULL, 0, 0, NULL, NULL};
    if (call->time_key != NULL) {
        top.time_key = PyBytes_AS_STRING(call->time_key);
        top.time_key_size = PyBytes_GET_SIZE(call->time_key);
    }
    if (!object(&t, 1, &top))
        return HANDED_BACK;
    const unsigned char *object_end = t.at;
    skip_blanks(&t);
    if (t.at != t.end)
        return HANDED_BACK;
    PyObject *members = members_of(&call->cache, call->members_writer, PyTuple_GET_ITEM(record, 2));
    if (members == NULL)
        return FAILED;
    if (members == Py_None) {
        Py_DECREF(members);
        return HANDED_BACK;
    }
    PyObject *timestamp = PyTuple_GET_ITEM(record, 0);
    Py_INCREF(timestamp);
    if (call->time_key != NULL) {
        Py_DECREF(timestamp);
        timestamp = time_of(call, &top, PyTuple_GET_ITEM(record, 0));
        if (timestamp == NULL) {
            Py_DECREF(members);
            return PyErr_Occurred() ? FAILED : HANDED_BACK;
        }
    }
    PyObject *fields = fields_text(call, object_start, object_end, top.members, members);
    Py_DECREF(members);
    if (fields == NULL) {
        Py_DECREF(timestamp);
        return FAILED;
    }
    *made = PyTuple_New(3);
    if (*made == NULL) {
        Py_DECREF(timestamp);
        Py_DECREF(fields);
        return FAILED;
    }
    PyTuple_SET_ITEM(*made, 0, timestamp);
    PyTuple_SET_ITEM(*made, 1, Py_NewRef(message));
    PyTuple_SET_ITEM(*made, 2, fields);
    return PARSED;
}

/* Fills `out` (a list of the records' size) and `handed_back`; 0 with an exception on failure. */
static int parse_all(Call *call, PyObject *records, PyObject *out, PyObject *handed_back, Py_ssize_t *unparsed)
{
    const Py_ssize_t count = PyList_GET_SIZE(out);
    for (Py_ssize_t i = 0; i < count && i < PyList_GET_SIZE(records); i++) { /* i below both sizes */
        PyObject *record = Py_NewRef(PyList_GET_ITEM(records, i)); /* held: Python code may run below */
        PyObject *made = NULL;
        int outcome = HANDED_BACK;
        if (PyTuple_CheckExact(record) && PyTuple_GET_SIZE(record) == 3)
            outcome = parse_one(call, record, &made);
        if (outcome == FAILED) {
            Py_DECREF(record);
            return 0;
        }
        if (outcome == HANDED_BACK) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(handed_back, index) < 0) {
                Py_XDECREF(index);
                Py_DECREF(record);
                return 0;
            }
            Py_DECREF(index);
        }
        if (outcome == UNPARSED)
            (*unparsed)++;
        PyList_SET_ITEM(out, i, outcome == PARSED ? made : Py_NewRef(record)); /* i < count, the list's size */
        Py_DECREF(record);
    }
    if (PyList_GET_SIZE(records) != count) {
        PyErr_SetString(PyExc_RuntimeError, "the records changed while they were parsed");
        return 0;
    }
    return 1;
}

static PyObject *json_objects(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "json_objects(records, members, reserved, target, time_key, parse_time)");
        return NULL;
    }
    PyObject *records = args[0];
    Call call = {args[1], args[2], args[3], args[4], args[5], {{NULL}, {NULL}, 0, 0}, 0};
    if (call.reserved == Py_None)
        call.reserved = NULL;
    if (call.target == Py_None)
        call.target = NULL;
    if (call.time_key == Py_None)
        call.time_key = NULL;
    if (!PyList_CheckExact(records) || !PyCallable_Check(call.members_writer)
        || (call.reserved != NULL && !PyTuple_CheckExact(call.reserved))
        || (call.target != NULL && !PyBytes_CheckExact(call.target))
        || (call.time_key != NULL && (!PyBytes_CheckExact(call.time_key) || !PyCallable_Check(call.parse_time))))
        Py_RETURN_NOTIMPLEMENTED;
    if (call.reserved != NULL)
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(call.reserved); i++) /* i < the tuple's size */
            if (!PyBytes_CheckExact(PyTuple_GET_ITEM(call.reserved, i)))
                Py_RETURN_NOTIMPLEMENTED;
    Py_INCREF(records); /* held: the caller's list, whatever the Python code called below does */
    PyObject *out = PyList_New(PyList_GET_SIZE(records)), *handed_back = PyList_New(0);
    Py_ssize_t unparsed = 0;
    /* a list from PyList_New holds NULLs until set, which its deallocation skips */
    const int done = out != NULL && handed_back != NULL && parse_all(&call, records, out, handed_back, &unparsed);
    cache_clear(&call.cache);
    Py_DECREF(records);
    if (!done) {
        Py_XDECREF(out);
        Py_XDECREF(handed_back);
        return NULL;
    }
    return Py_BuildValue("(NnnN)", out, unparsed, call.untimed, handed_back);
}

static PyMethodDef methods[] = {
    {"json_objects", (PyCFunction)(void (*)(void))json_objects, METH_FASTCALL,
     "`parse` json over a block's records, each parsed record's fields as the JSON text the spool stores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_parse", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__parse(void) { return PyModule_Create(&module); }
