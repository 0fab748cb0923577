/*
 * shipper.kernels._ndjson: a block's records as JSON objects, one bytes object each, in one call.
 *
 * objects(timestamps, messages, tails, start) -> list[bytes] | None
 *
 * For each record i >= start:
 *   {"timestamp":"<RFC 3339 UTC, nanoseconds>","message":"<the message, JSON-escaped>  + tails[i]
 * where tails[i] is the JSON after the message's text, its closing quote included, which the caller
 * made once per distinct fields mapping (sinks/encoding.py: _tail). The message is escaped as orjson
 * escapes a str: `"` and `\` with a backslash; \b \t \n \f \r by name; other bytes below 0x20 as
 * \u00XX (lowercase hex); everything else, DEL and non-ASCII included, as its UTF-8. The time is what
 * record.rfc3339 writes. That is exactly what the reference, encoding.json_objects, makes (orjson's
 * dump of the messages split at their boundaries, joined with the times' texts and the tails);
 * tests/kernels/test_ndjson.py holds the two equal on any block.
 *
 * Returns None, leaving the block to the reference, for anything it does not take exactly: a time
 * that is not an int in [0, 2**63), a message that is not a str or has no UTF-8 form (a lone
 * surrogate: the reference encodes that record on its own, repaired), a tail that is not bytes, lists
 * of different lengths.
 *
 * Bounds: per record, two passes over the message's UTF-8 (size, then write) into a bytes object of
 * exactly that size; `put` refuses a write past its end, which the first pass rules out. List items
 * are read at indexes below the lists' sizes, checked once: no Python code runs during the call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "text.h"

#define NS 1000000000LL
static const char HEAD[] = "{\"timestamp\":\"";   /* 14 bytes */
static const char MIDDLE[] = "\",\"message\":\""; /* 13 bytes */
#define HEAD_SIZE 14
#define STAMP_SIZE 30 /* YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ */
#define MIDDLE_SIZE 13

static const char HEX[] = "0123456789abcdef";

/* The bytes each byte becomes in a JSON string as orjson writes it: 1, 2 or 6. */
static unsigned char escaped_size[256];

static void fill_escaped_sizes(void)
{
    for (int c = 0; c < 256; c++)
        escaped_size[c] = c < 0x20 ? 6 : 1;
    escaped_size['"'] = escaped_size['\\'] = 2;
    escaped_size['\b'] = escaped_size['\t'] = escaped_size['\n'] = escaped_size['\f'] = escaped_size['\r'] = 2;
}

static Py_ssize_t escaped_length(Text message)
{
    Py_ssize_t size = 0;
    const unsigned char *p = (const unsigned char *)message.data;
    for (Py_ssize_t i = 0; i < message.size; i++) /* i < size: within the str's UTF-8 */
        size += escaped_size[p[i]];
    return size;
}

/* The message escaped into `out`; 0 if it would pass the end (the first pass sized it: never). */
static int put_escaped(Out *out, Text message)
{
    const unsigned char *p = (const unsigned char *)message.data;
    Py_ssize_t run = 0; /* bytes from p[i - run] to p[i] that need no escape, copied at once */
    for (Py_ssize_t i = 0; i < message.size; i++) { /* i < size: within the str's UTF-8 */
        unsigned char c = p[i];
        if (escaped_size[c] == 1) {
            run++;
            continue;
        }
        if (!put(out, (const char *)p + i - run, run))
            return 0;
        run = 0;
        char escape[6] = {'\\', (char)c, 0, 0, 0, 0};
        Py_ssize_t size = 2;
        switch (c) {
        case '\b': escape[1] = 'b'; break;
        case '\t': escape[1] = 't'; break;
        case '\n': escape[1] = 'n'; break;
        case '\f': escape[1] = 'f'; break;
        case '\r': escape[1] = 'r'; break;
        case '"': case '\\': break;
        default: /* below 0x20 */
            memcpy(escape, "\\u00", 4);
            escape[4] = HEX[c >> 4];
            escape[5] = HEX[c & 15];
            size = 6;
        }
        if (!put(out, escape, size))
            return 0;
    }
    return put(out, (const char *)p + message.size - run, run);
}

static PyObject *hand_back(PyObject *out)
{
    Py_XDECREF(out);
    PyErr_Clear();
    Py_RETURN_NONE;
}

static PyObject *objects(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "objects(timestamps: list, messages: list, tails: list, start: int)");
        return NULL;
    }
    if (!PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1]) || !PyList_CheckExact(args[2]))
        return hand_back(NULL);
    PyObject *timestamps = args[0], *messages = args[1], *tails = args[2];
    Py_ssize_t start = PyLong_AsSsize_t(args[3]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(messages);
    if (start < 0 || start > count || PyList_GET_SIZE(timestamps) != count || PyList_GET_SIZE(tails) != count - start)
        return hand_back(NULL);
    PyObject *out = PyList_New(count - start);
    if (out == NULL)
        return NULL;
    char stamp[STAMP_SIZE];
    int64_t stamped_second = -1;
    for (Py_ssize_t i = start; i < count; i++) { /* start <= i < count: every list holds index i (tails i - start) */
        PyObject *time_object = PyList_GET_ITEM(timestamps, i), *tail = PyList_GET_ITEM(tails, i - start);
        if (!PyLong_CheckExact(time_object) || !PyBytes_CheckExact(tail))
            return hand_back(out);
        int overflow = 0;
        long long ns = PyLong_AsLongLongAndOverflow(time_object, &overflow);
        Text message;
        if (overflow || ns < 0 || !utf8_of(PyList_GET_ITEM(messages, i), &message))
            return hand_back(out);
        int64_t second = ns / NS;
        if (second != stamped_second) {
            second_text(second, stamp); /* 0 <= second < 2^63 / 10^9: a year of 4 digits */
            stamped_second = second;
        }
        put_digits(stamp + 20, ns % NS, 9);
        stamp[29] = 'Z';
        Py_ssize_t tail_size = PyBytes_GET_SIZE(tail);
        Py_ssize_t size = HEAD_SIZE + STAMP_SIZE + MIDDLE_SIZE + escaped_length(message) + tail_size;
        PyObject *object = PyBytes_FromStringAndSize(NULL, size);
        if (object == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        Out o = {PyBytes_AS_STRING(object), PyBytes_AS_STRING(object) + size};
        int written = put(&o, HEAD, HEAD_SIZE) && put(&o, stamp, STAMP_SIZE) && put(&o, MIDDLE, MIDDLE_SIZE)
                      && put_escaped(&o, message) && put(&o, PyBytes_AS_STRING(tail), tail_size) && o.at == o.end;
        PyList_SET_ITEM(out, i - start, object); /* the list takes the reference */
        if (!written) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_SystemError, "_ndjson: an object's size was miscounted");
            return NULL;
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"objects", (PyCFunction)(void (*)(void))objects, METH_FASTCALL,
     "Each record of a block from `start` as a JSON object, or None when the reference must make them."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ndjson", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ndjson(void)
{
    fill_escaped_sizes();
    return PyModule_Create(&module);
}
