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

/* Bytes written for one record, reused from record to record; freed at the end of the call. */
typedef struct {
    char *data;
    Py_ssize_t size, capacity;
} Buffer;

/* What a format made of one message. */
typedef struct {
    const char *inner;     /* the parsed members as JSON text, without the braces */
    Py_ssize_t inner_size;
    Py_ssize_t members;    /* how many (0: an empty object) */
    PyObject *time_value;  /* a new reference to the value at time_key (Py_None: missing); NULL without time_key */
} Parsed;

typedef struct Call Call;
typedef int (*Format)(Call *call, PyObject *message, Parsed *parsed);

struct Call {
    PyObject *members_writer, *reserved, *target, *time_key, *parse_time;
    Format format;
    MemberCache cache;
    Buffer buffer;
    Py_ssize_t untimed;
};

/* The fields bytes: {inner,members} or {members,"target":{inner}}. */
static PyObject *fields_text(const Call *call, const Parsed *parsed, PyObject *members)
{
    const Py_ssize_t members_size = PyBytes_GET_SIZE(members);
    const char *own = PyBytes_AS_STRING(members);
    const int comma = members_size > 0 && (call->target != NULL || parsed->members > 0);
    Py_ssize_t size = 2 + parsed->inner_size + comma + members_size;
    if (call->target != NULL)
        size += PyBytes_GET_SIZE(call->target) + 2;
    PyObject *text = PyBytes_FromStringAndSize(NULL, size);
    if (text == NULL)
        return NULL;
    char *out = PyBytes_AS_STRING(text);
    /* each copy below writes a part of the sum `size` was made of, in order: out stays within size */
    *out++ = '{';
    if (call->target == NULL) {
        memcpy(out, parsed->inner, (size_t)parsed->inner_size);
        out += parsed->inner_size;
        if (comma)
            *out++ = ',';
        memcpy(out, own, (size_t)members_size);
        out += members_size;
    } else {
        memcpy(out, own, (size_t)members_size);
        out += members_size;
        if (comma)
            *out++ = ',';
        memcpy(out, PyBytes_AS_STRING(call->target), (size_t)PyBytes_GET_SIZE(call->target));
        out += PyBytes_GET_SIZE(call->target);
        *out++ = '{';
        memcpy(out, parsed->inner, (size_t)parsed->inner_size);
        out += parsed->inner_size;
        *out++ = '}';
    }
    *out = '}';
    return text;
}

/* ---- format json: the message is one JSON object ---- */

static int json_format(Call *call, PyObject *message, Parsed *parsed)
{
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
    const unsigned char *object_end = t.at; /* past its `}`: object_start < object_end - 1 */
    skip_blanks(&t);
    if (t.at != t.end)
        return HANDED_BACK;
    parsed->inner = (const char *)object_start + 1;
    parsed->inner_size = (object_end - 1) - (object_start + 1);
    parsed->members = top.members;
    if (call->time_key == NULL)
        return PARSED;
    if (top.time_start == NULL) {
        parsed->time_value = Py_NewRef(Py_None);
        return PARSED;
    }
    const unsigned char *start = top.time_start, *end = top.time_end;
    /* a string spans at least its two quotes */
    if (end - start < 2 || *start != '"' || memchr(start, '\\', (size_t)(end - start)) != NULL)
        return HANDED_BACK; /* not a plain string: the reference reads it */
    parsed->time_value = PyUnicode_DecodeUTF8((const char *)start + 1, (end - 1) - (start + 1), "strict");
    return parsed->time_value == NULL ? FAILED : PARSED;
}

/* ---- format nginx_combined / apache_combined ----
 * The reference is the regular expression _COMBINED in shipper/parsers.py, matched (not
 * searched) by Python's `re`; for ASCII text its backtracking has exactly one way to succeed, read
 * here step by step: each `\S+ ` is the longest run of non-blanks and must end at a space; `[^\]]*`
 * and the quoted texts (escapes `\x`, x not a newline) end at their first closing character; the
 * request is tried as `METHOD PATH HTTP/x` first and as a quoted text when that or the status and
 * size after it do not match; the referer and user agent are both there or both missing. Text with
 * any non-ASCII character is handed back (`\s` and `\d` then take Unicode classes). */

static const char *const COMBINED_NAMES[] = {"remote_addr", "remote_user", "time_local", "method", "path", "protocol",
                                             "request", "status", "body_bytes_sent", "http_referer",
                                             "http_user_agent"};
enum { ADDR, USER, TIME, METHOD, PATH, PROTOCOL, REQUEST, STATUS, SIZE, REFERER, AGENT, COMBINED_FIELDS };

typedef struct {
    Py_ssize_t start, end; /* start <= end <= the text's length; start < 0: not there */
} Span;

/* Python's `\s` on ASCII text: the C blanks and the four separators \x1c-\x1f. */
static int is_re_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/* `(\S+) ` at i: the token's span; the index after the space, or -1. */
static Py_ssize_t token(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, Span *span)
{
    Py_ssize_t j = i;
    while (j < n && !is_re_space(s[j]))
        j++;
    if (j == i || j >= n || s[j] != ' ')
        return -1;
    span->start = i;
    span->end = j;
    return j + 1;
}

/* `([^"\\]*(?:\\.[^"\\]*)*)"` at i: the text's span; the index after the closing quote, or -1. */
static Py_ssize_t quoted(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, Span *span)
{
    for (Py_ssize_t j = i; j < n;) {
        if (s[j] == '"') {
            span->start = i;
            span->end = j;
            return j + 1;
        }
        if (s[j] == '\\') {
            if (j + 1 >= n || s[j + 1] == '\n') /* `.` takes any character but a newline */
                return -1;
            j += 2; /* j + 1 < n */
        } else {
            j++;
        }
    }
    return -1;
}

/* `([A-Z]+) (\S+) (HTTP/[0-9.]+)"` at i: the index after the quote, or -1. */
static Py_ssize_t request_parts(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, Span *fields)
{
    Py_ssize_t j = i;
    while (j < n && s[j] >= 'A' && s[j] <= 'Z')
        j++;
    if (j == i || j >= n || s[j] != ' ')
        return -1;
    fields[METHOD] = (Span){i, j};
    j = token(s, n, j + 1, &fields[PATH]);
    if (j < 0 || n - j < 6 || memcmp(s + j, "HTTP/", 5) != 0) /* 5 bytes and a digit or dot are there */
        return -1;
    Py_ssize_t k = j + 5;
    while (k < n && (is_digit(s[k]) || s[k] == '.'))
        k++;
    if (k == j + 5 || k >= n || s[k] != '"')
        return -1;
    fields[PROTOCOL] = (Span){j, k};
    return k + 1;
}

/* ` (\d{3}|-) (\d+|-)(?: "referer" "agent")?` at i: 1 when it matches. */
static int status_and_after(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, Span *fields)
{
    if (n - i < 3 || s[i] != ' ') /* a blank, a status and a blank at least */
        return 0;
    i++;
    if (n - i >= 3 && is_digit(s[i]) && is_digit(s[i + 1]) && is_digit(s[i + 2])) {
        fields[STATUS] = (Span){i, i + 3};
        i += 3;
    } else if (s[i] == '-') { /* i < n: n - i >= 2 before the increment */
        fields[STATUS] = (Span){i, i + 1};
        i++;
    } else {
        return 0;
    }
    if (i >= n || s[i] != ' ')
        return 0;
    i++;
    Py_ssize_t j = i;
    while (j < n && is_digit(s[j]))
        j++;
    if (j == i) {
        if (i >= n || s[i] != '-')
            return 0;
        j = i + 1;
    }
    fields[SIZE] = (Span){i, j};
    fields[REFERER] = fields[AGENT] = (Span){-1, -1};
    Span referer, agent;
    if (n - j >= 2 && s[j] == ' ' && s[j + 1] == '"') {
        const Py_ssize_t k = quoted(s, n, j + 2, &referer);
        if (k >= 0 && n - k >= 2 && s[k] == ' ' && s[k + 1] == '"' && quoted(s, n, k + 2, &agent) >= 0) {
            fields[REFERER] = referer;
            fields[AGENT] = agent;
        }
    }
    return 1;
}

static int match_combined(const unsigned char *s, Py_ssize_t n, Span *fields)
{
    Span ignored;
    Py_ssize_t i = token(s, n, 0, &fields[ADDR]);
    i = i < 0 ? -1 : token(s, n, i, &ignored);
    i = i < 0 ? -1 : token(s, n, i, &fields[USER]);
    if (i < 0 || i >= n || s[i] != '[')
        return 0;
    Py_ssize_t j = i + 1;
    while (j < n && s[j] != ']')
        j++;
    if (n - j < 3 || s[j + 1] != ' ' || s[j + 2] != '"') /* `] "` */
        return 0;
    fields[TIME] = (Span){i + 1, j};
    i = j + 3;
    for (int k = METHOD; k <= REQUEST; k++)
        fields[k] = (Span){-1, -1};
    j = request_parts(s, n, i, fields);
    if (j >= 0 && status_and_after(s, n, j, fields))
        return 1;
    fields[METHOD] = fields[PATH] = fields[PROTOCOL] = (Span){-1, -1};
    j = quoted(s, n, i, &fields[REQUEST]);
    return j >= 0 && status_and_after(s, n, j, fields);
}

static int is_dash(const unsigned char *s, Span span) { return span.end - span.start == 1 && s[span.start] == '-'; }

/* A request of `METHOD PATH` (one blank) is split as the reference's `request.split(" ")` of two. */
static void split_request(const unsigned char *s, Span *fields)
{
    const Span request = fields[REQUEST];
    fields[REQUEST] = (Span){-1, -1};
    if (request.end == request.start || is_dash(s, request))
        return;
    const unsigned char *blank = memchr(s + request.start, ' ', (size_t)(request.end - request.start));
    const Py_ssize_t at = blank == NULL ? -1 : blank - s;
    if (at >= 0 && memchr(s + at + 1, ' ', (size_t)(request.end - at - 1)) == NULL) { /* at < request.end */
        fields[METHOD] = (Span){request.start, at};
        fields[PATH] = (Span){at + 1, request.end};
    } else {
        fields[REQUEST] = request;
    }
}

/* Room for `extra` more bytes in the buffer; 0 with MemoryError. */
static int reserve(Buffer *buffer, Py_ssize_t extra)
{
    if (buffer->capacity - buffer->size >= extra)
        return 1;
    const Py_ssize_t capacity = buffer->size + extra + 256;
    char *data = PyMem_Realloc(buffer->data, (size_t)capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 1;
}

/* The ASCII text [start, end) as a JSON string; the caller reserved 6 bytes a character and 2. */
static void put_string(Buffer *buffer, const unsigned char *s, Span span)
{
    char *out = buffer->data + buffer->size;
    *out++ = '"';
    for (Py_ssize_t i = span.start; i < span.end; i++) { /* at most 6 bytes each: reserved */
        const unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            out += sprintf(out, "\\u%04x", c);
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    buffer->size = out - buffer->data;
}

/* The digits [start, end) as a JSON integer (leading zeros dropped, as int() drops them); at most
   MAX_DIGITS digits (the caller checked): the value fits 64 bits. */
static long long digits_value(const unsigned char *s, Span span)
{
    long long value = 0;
    for (Py_ssize_t i = span.start; i < span.end; i++) /* i < end <= n */
        value = value * 10 + (s[i] - '0');
    return value;
}

static int put_combined(Buffer *buffer, const unsigned char *s, const Span *fields, Py_ssize_t *members)
{
    buffer->size = 0;
    for (int k = 0; k < COMBINED_FIELDS; k++) {
        const Span span = fields[k];
        if (span.start < 0 || ((k == ADDR || k == USER || k == TIME || k == STATUS || k == SIZE || k == REFERER
                                || k == AGENT) && is_dash(s, span)))
            continue;
        const Py_ssize_t name = (Py_ssize_t)strlen(COMBINED_NAMES[k]);
        if (!reserve(buffer, 1 + name + 3 + 6 * (span.end - span.start) + 2))
            return 0;
        char *out = buffer->data + buffer->size;
        if (*members > 0)
            *out++ = ',';
        *out++ = '"';
        memcpy(out, COMBINED_NAMES[k], (size_t)name);
        out += name;
        *out++ = '"';
        *out++ = ':';
        buffer->size = out - buffer->data;
        if (k == STATUS || k == SIZE)
            buffer->size += sprintf(buffer->data + buffer->size, "%lld", digits_value(s, span)); /* <= 19 bytes */
        else
            put_string(buffer, s, span);
        (*members)++;
    }
    return 1;
}

/* The value the reference's dig(parsed, (time_key,)) gives, as a new reference. */
static PyObject *combined_time_value(const Call *call, const unsigned char *s, const Span *fields)
{
    const char *key = PyBytes_AS_STRING(call->time_key);
    for (int k = 0; k < COMBINED_FIELDS; k++) {
        const Span span = fields[k];
        if (strcmp(COMBINED_NAMES[k], key) != 0 || PyBytes_GET_SIZE(call->time_key) != (Py_ssize_t)strlen(key))
            continue;
        if (span.start < 0 || ((k != METHOD && k != PATH && k != PROTOCOL && k != REQUEST) && is_dash(s, span)))
            break;
        if (k == STATUS || k == SIZE)
            return PyLong_FromLongLong(digits_value(s, span));
        return PyUnicode_FromStringAndSize((const char *)s + span.start, span.end - span.start);
    }
    return Py_NewRef(Py_None);
}

static int combined_format(Call *call, PyObject *message, Parsed *parsed)
{
    if (!PyUnicode_IS_ASCII(message))
        return HANDED_BACK;
    const unsigned char *s = PyUnicode_DATA(message); /* ASCII: one byte a character */
    const Py_ssize_t n = PyUnicode_GET_LENGTH(message);
    Span fields[COMBINED_FIELDS];
    if (!match_combined(s, n, fields))
        return UNPARSED;
    if (fields[SIZE].end - fields[SIZE].start > MAX_DIGITS) /* the reference's int is past 64 bits */
        return HANDED_BACK;
    if (fields[REQUEST].start >= 0)
        split_request(s, fields);
    parsed->members = 0;
    if (!put_combined(&call->buffer, s, fields, &parsed->members))
        return FAILED;
    parsed->inner = call->buffer.data;
    parsed->inner_size = call->buffer.size;
    if (call->time_key != NULL) {
        parsed->time_value = combined_time_value(call, s, fields);
        if (parsed->time_value == NULL)
            return FAILED;
    }
    return PARSED;
}

/* ---- format logfmt ----
 * The reference is parse_logfmt in shipper/parsers.py: `re.finditer` of
 * `([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?`. On ASCII text each match is found step by step: a key
 * is the longest run of characters neither blank nor `=`, found at the first position one starts; an
 * `=` after it opens a value, quoted (to the first unescaped quote, escapes `\x` with x not a newline)
 * or, when that fails, the longest run of characters neither blank nor `"` (possibly empty). A key
 * without a value is true unless the key has one already; a later value replaces an earlier one in
 * its first place; quoted values lose their quotes and their escapes (\n, \t, \r; \x is x). None
 * without any key=value. Text with another character, a key the agent reserves, more than
 * MAX_PAIRS keys, is handed back. */

#define MAX_PAIRS 64

typedef struct {
    Span key, value; /* value.start < 0: true (a key alone); else the value, quoted when quoted is set */
    int quoted;
} Pair;

/* The pairs of `s`, duplicates merged as dict assignment and setdefault merge them; -1 to hand back. */
static Py_ssize_t logfmt_pairs(const unsigned char *s, Py_ssize_t n, Pair *pairs, Py_ssize_t *valued)
{
    Py_ssize_t count = 0, i = 0;
    *valued = 0;
    while (i < n) {
        if (is_re_space(s[i]) || s[i] == '=') {
            i++;
            continue;
        }
        Span key = {i, i}, value = {-1, -1};
        while (i < n && !is_re_space(s[i]) && s[i] != '=')
            i++;
        key.end = i;
        int in_quotes = 0;
        if (i < n && s[i] == '=') {
            i++;
            Span inner;
            const Py_ssize_t after = i < n && s[i] == '"' ? quoted(s, n, i + 1, &inner) : -1;
            if (after >= 0) {
                value = inner; /* the text between the quotes */
                in_quotes = 1;
                i = after;
            } else {
                value.start = i;
                while (i < n && !is_re_space(s[i]) && s[i] != '"')
                    i++;
                value.end = i;
            }
            (*valued)++;
        }
        Py_ssize_t found = -1;
        for (Py_ssize_t k = 0; k < count; k++) /* k < count <= MAX_PAIRS */
            if (pairs[k].key.end - pairs[k].key.start == key.end - key.start
                && memcmp(s + pairs[k].key.start, s + key.start, (size_t)(key.end - key.start)) == 0) {
                found = k;
                break;
            }
        if (found >= 0) {
            if (value.start >= 0) { /* fields[key] = value: the first place, the last value */
                pairs[found].value = value;
                pairs[found].quoted = in_quotes;
            }
            continue; /* a key alone: setdefault keeps what is there */
        }
        if (count == MAX_PAIRS)
            return -1;
        pairs[count++] = (Pair){key, value, in_quotes}; /* count < MAX_PAIRS before the increment */
    }
    return count;
}

/* A quoted value's text as a JSON string, its escapes resolved as the reference resolves them. */
static void put_unescaped(Buffer *buffer, const unsigned char *s, Span span)
{
    char *out = buffer->data + buffer->size;
    *out++ = '"';
    for (Py_ssize_t i = span.start; i < span.end; i++) { /* at most 6 bytes a character: reserved */
        unsigned char c = s[i];
        if (c == '\\' && i + 1 < span.end) { /* quoted() took `\x` pairs whole: x is inside the span */
            c = s[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            out += sprintf(out, "\\u%04x", c);
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    buffer->size = out - buffer->data;
}

static int logfmt_format(Call *call, PyObject *message, Parsed *parsed)
{
    if (!PyUnicode_IS_ASCII(message))
        return HANDED_BACK;
    const unsigned char *s = PyUnicode_DATA(message); /* ASCII: one byte a character */
    const Py_ssize_t n = PyUnicode_GET_LENGTH(message);
    Pair pairs[MAX_PAIRS];
    Py_ssize_t valued;
    const Py_ssize_t count = logfmt_pairs(s, n, pairs, &valued);
    if (count < 0)
        return HANDED_BACK;
    if (valued == 0)
        return UNPARSED;
    Buffer *buffer = &call->buffer;
    buffer->size = 0;
    for (Py_ssize_t k = 0; k < count; k++) { /* k < count <= MAX_PAIRS */
        const Span key = pairs[k].key, value = pairs[k].value;
        if (call->reserved != NULL && is_reserved(call->reserved, s + key.start, key.end - key.start))
            return HANDED_BACK;
        const Py_ssize_t room = 1 + 6 * (key.end - key.start) + 3
                                + (value.start < 0 ? 4 : 6 * (value.end - value.start) + 2);
        if (!reserve(buffer, room))
            return FAILED;
        if (k > 0)
            buffer->data[buffer->size++] = ',';
        put_string(buffer, s, key);
        buffer->data[buffer->size++] = ':';
        if (value.start < 0) {
            memcpy(buffer->data + buffer->size, "true", 4);
            buffer->size += 4;
        } else if (pairs[k].quoted) {
            put_unescaped(buffer, s, value);
        } else {
            put_string(buffer, s, value);
        }
    }
    parsed->inner = buffer->data;
    parsed->inner_size = buffer->size;
    parsed->members = count;
    if (call->time_key != NULL) {
        parsed->time_value = NULL;
        const char *wanted = PyBytes_AS_STRING(call->time_key);
        const Py_ssize_t size = PyBytes_GET_SIZE(call->time_key);
        for (Py_ssize_t k = 0; k < count && parsed->time_value == NULL; k++) { /* k < count */
            const Span key = pairs[k].key, value = pairs[k].value;
            if (key.end - key.start != size || memcmp(s + key.start, wanted, (size_t)size) != 0)
                continue;
            if (value.start < 0)
                parsed->time_value = Py_NewRef(Py_True);
            else if (pairs[k].quoted && memchr(s + value.start, '\\', (size_t)(value.end - value.start)) != NULL)
                return HANDED_BACK; /* an escaped time: the reference reads it */
            else
                parsed->time_value = PyUnicode_FromStringAndSize((const char *)s + value.start, value.end - value.start);
            if (parsed->time_value == NULL)
                return FAILED;
        }
        if (parsed->time_value == NULL)
            parsed->time_value = Py_NewRef(Py_None);
    }
    return PARSED;
}

/* ---- the records ---- */

/* The record's time: a new reference to parse_time's result when it gives one, else to the record's
   own (counted untimed). NULL with an exception. */
static PyObject *time_of(Call *call, PyObject *value, PyObject *record_time)
{
    PyObject *parsed = PyObject_CallOneArg(call->parse_time, value);
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
    Parsed parsed = {NULL, 0, 0, NULL};
    const int outcome = call->format(call, message, &parsed);
    if (outcome != PARSED) {
        Py_XDECREF(parsed.time_value);
        return outcome;
    }
    PyObject *members = members_of(&call->cache, call->members_writer, PyTuple_GET_ITEM(record, 2));
    if (members == NULL || members == Py_None) {
        Py_XDECREF(parsed.time_value);
        Py_XDECREF(members);
        return members == NULL ? FAILED : HANDED_BACK;
    }
    /* the fields before the time: parse_time is Python code, and the buffer is reused by a later record only */
    PyObject *fields = fields_text(call, &parsed, members);
    Py_DECREF(members);
    PyObject *timestamp = NULL;
    if (fields != NULL)
        timestamp = parsed.time_value == NULL ? Py_NewRef(PyTuple_GET_ITEM(record, 0))
                                              : time_of(call, parsed.time_value, PyTuple_GET_ITEM(record, 0));
    Py_XDECREF(parsed.time_value);
    *made = timestamp == NULL ? NULL : PyTuple_New(3);
    if (*made == NULL) {
        Py_XDECREF(fields);
        Py_XDECREF(timestamp);
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

static PyObject *parse_block(Format format, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "(records, members, reserved, target, time_key, parse_time)");
        return NULL;
    }
    PyObject *records = args[0];
    Call call = {args[1], args[2], args[3], args[4], args[5], format, {{NULL}, {NULL}, 0, 0}, {NULL, 0, 0}, 0};
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
    PyMem_Free(call.buffer.data);
    Py_DECREF(records);
    if (!done) {
        Py_XDECREF(out);
        Py_XDECREF(handed_back);
        return NULL;
    }
    return Py_BuildValue("(NnnN)", out, unparsed, call.untimed, handed_back);
}

static PyObject *json_objects(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return parse_block(json_format, args, nargs);
}

static PyObject *combined_logs(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return parse_block(combined_format, args, nargs);
}

static PyObject *logfmt_pairs_of(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    return parse_block(logfmt_format, args, nargs);
}

static PyMethodDef methods[] = {
    {"json_objects", (PyCFunction)(void (*)(void))json_objects, METH_FASTCALL,
     "`parse` json over a block's records, each parsed record's fields as the JSON text the spool stores."},
    {"combined_logs", (PyCFunction)(void (*)(void))combined_logs, METH_FASTCALL,
     "`parse` nginx_combined over a block's records, each parsed record's fields as the JSON text the spool "
     "stores."},
    {"logfmt_pairs", (PyCFunction)(void (*)(void))logfmt_pairs_of, METH_FASTCALL,
     "`parse` logfmt over a block's records, each parsed record's fields as the JSON text the spool stores."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_parse", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__parse(void)
{
    PyObject *made = PyModule_Create(&module);
    PyObject *names = PyTuple_New(COMBINED_FIELDS);
    if (made == NULL || names == NULL) {
        Py_XDECREF(made);
        Py_XDECREF(names);
        return NULL;
    }
    for (int k = 0; k < COMBINED_FIELDS; k++) /* k < the tuple's size */
        PyTuple_SET_ITEM(names, k, PyUnicode_FromString(COMBINED_NAMES[k]));
    if (PyModule_AddObject(made, "COMBINED_NAMES", names) < 0) {
        Py_DECREF(names);
        Py_DECREF(made);
        return NULL;
    }
    return made;
}
