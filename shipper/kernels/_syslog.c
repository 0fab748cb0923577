/*
 * shipper.kernels._syslog: a block's RFC 5424 frames in one call, the syslog encoder's batch path.
 *
 * frames(times, messages, fields, start, mappings, heads, octet_counting) -> bytes | None
 *
 * For each record i >= start: the head of its fields mapping (the mapping is found by identity in
 * `mappings`; `heads` holds, in the same order, (before, after) as UTF-8 bytes), then
 *   octet counting:  "<size> " before TIMESTAMP after MESSAGE       size = len(before) + 27 + len(after) + len(MESSAGE)
 *   newline framing: before TIMESTAMP after MESSAGE "\n"
 * where TIMESTAMP is "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" of the record's nanoseconds (UTC, microseconds cut,
 * not rounded), and MESSAGE is the message's UTF-8. This is what Encoder._prefixes + _interleave + the
 * join and encode give (shipper/sinks/syslog/encoder.py, the reference), for the blocks the encoder
 * hands over: it has already checked what makes a block go per record (newlines, sizes, templates).
 *
 * Returns None, leaving the block to the reference, for anything it does not take exactly: a time that
 * is not an int in [0, 2**63) (4-digit years only: the reference's sizes count 27 bytes a stamp), a
 * message that is not a str or has no UTF-8 form (a lone surrogate: the reference fails the same way),
 * a fields mapping not in `mappings`, more than MAX_HEADS heads, lists of different lengths.
 *
 * Bounds: two passes. The first reads every item (indexes checked against the lists' sizes, read
 * once: no Python code runs between the passes, so they cannot change) and sums the exact size of
 * the output; the second writes into a bytes object of that size, each write's length counted in the
 * first pass (see `put`: it checks the end anyway and fails rather than write past it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "text.h"

#define STAMP 27     /* "2026-01-01T00:00:00.000000Z" */
#define MAX_HEADS 8  /* the mapping of a record is found by a scan: bounded */
#define NS 1000000000LL


typedef struct {
    Text before, after;
    Py_ssize_t size; /* before + STAMP + after */
} Head;

static int decimal_width(Py_ssize_t value) /* value >= 0 */
{
    int width = 1;
    while (value >= 10) {
        value /= 10;
        width++;
    }
    return width;
}

static int read_heads(PyObject *mappings, PyObject *heads, Head *out, Py_ssize_t *count)
{
    if (!PyTuple_CheckExact(mappings) || !PyTuple_CheckExact(heads))
        return 0;
    *count = PyTuple_GET_SIZE(heads);
    if (*count < 1 || *count > MAX_HEADS || PyTuple_GET_SIZE(mappings) != *count)
        return 0;
    for (Py_ssize_t h = 0; h < *count; h++) { /* h < count <= MAX_HEADS = the size of out */
        PyObject *pair = PyTuple_GET_ITEM(heads, h);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2)
            return 0;
        PyObject *before = PyTuple_GET_ITEM(pair, 0), *after = PyTuple_GET_ITEM(pair, 1);
        if (!PyBytes_CheckExact(before) || !PyBytes_CheckExact(after))
            return 0;
        out[h].before = (Text){PyBytes_AS_STRING(before), PyBytes_GET_SIZE(before)};
        out[h].after = (Text){PyBytes_AS_STRING(after), PyBytes_GET_SIZE(after)};
        out[h].size = out[h].before.size + STAMP + out[h].after.size;
    }
    return 1;
}

typedef struct {
    Text message;
    int64_t ns;
    unsigned char head;
} Item;

/* First pass: each record's message, time and head, and the size of the output; 0: not taken. */
static int read_items(PyObject *times, PyObject *messages, PyObject *fields, Py_ssize_t start, PyObject *mappings,
                      const Head *heads, Py_ssize_t head_count, int octet_counting, Item *items, Py_ssize_t *total)
{
    const Py_ssize_t n = PyList_GET_SIZE(messages) - start;
    Py_ssize_t last = 0;
    *total = 0;
    for (Py_ssize_t i = 0; i < n; i++) { /* start + i < len(messages) == len(times) == len(fields) */
        Item *item = &items[i];          /* i < n = the size of items */
        if (!utf8_of(PyList_GET_ITEM(messages, start + i), &item->message))
            return 0;
        PyObject *time = PyList_GET_ITEM(times, start + i);
        if (!PyLong_CheckExact(time))
            return 0;
        int overflow = 0;
        item->ns = PyLong_AsLongLongAndOverflow(time, &overflow);
        if (overflow || item->ns < 0) {
            PyErr_Clear();
            return 0;
        }
        PyObject *mapping = PyList_GET_ITEM(fields, start + i);
        if (PyTuple_GET_ITEM(mappings, last) != mapping) { /* last < head_count: the tuple's size */
            for (last = 0; last < head_count && PyTuple_GET_ITEM(mappings, last) != mapping; last++)
                ;
            if (last == head_count)
                return 0;
        }
        item->head = (unsigned char)last;
        const Py_ssize_t size = heads[last].size + item->message.size;
        if (size > PY_SSIZE_T_MAX / 4 || *total > PY_SSIZE_T_MAX / 2)
            return 0;
        *total += size + (octet_counting ? decimal_width(size) + 1 : 1);
    }
    return 1;
}

/* Second pass: the frames into `out`, exactly `total` bytes as the first pass counted them. */
static int write_frames(const Item *items, Py_ssize_t n, const Head *heads, int octet_counting, Out *out)
{
    char stamp[STAMP];
    int64_t second = -1;
    char count[24];
    for (Py_ssize_t i = 0; i < n; i++) { /* i < n = the size of items */
        const Item *item = &items[i];
        const Head *head = &heads[item->head]; /* item->head < head_count: set by read_items */
        if (item->ns / NS != second) {
            second = item->ns / NS;
            second_text(second, stamp);
        }
        put_digits(stamp + 20, item->ns / 1000 % 1000000, 6);
        stamp[26] = 'Z';
        if (octet_counting) {
            const Py_ssize_t size = head->size + item->message.size;
            const int width = decimal_width(size); /* <= 19 digits: fits count */
            put_digits(count, size, width);
            count[width] = ' ';
            if (!put(out, count, width + 1))
                return 0;
        }
        if (!put(out, head->before.data, head->before.size) || !put(out, stamp, STAMP)
            || !put(out, head->after.data, head->after.size)
            || !put(out, item->message.data, item->message.size))
            return 0;
        if (!octet_counting && !put(out, "\n", 1))
            return 0;
    }
    return out->at == out->end;
}

static PyObject *frames(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "frames(times, messages, fields, start, mappings, heads, octet_counting)");
        return NULL;
    }
    PyObject *times = args[0], *messages = args[1], *fields = args[2];
    if (!PyList_CheckExact(times) || !PyList_CheckExact(messages) || !PyList_CheckExact(fields)) {
        PyErr_SetString(PyExc_TypeError, "times, messages and fields must be lists");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[3]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    const int octet_counting = PyObject_IsTrue(args[6]);
    if (octet_counting < 0)
        return NULL;
    Head heads[MAX_HEADS];
    Py_ssize_t head_count = 0;
    const Py_ssize_t size = PyList_GET_SIZE(messages);
    if (start < 0 || start > size || PyList_GET_SIZE(times) != size || PyList_GET_SIZE(fields) != size
        || !read_heads(args[4], args[5], heads, &head_count))
        Py_RETURN_NONE;
    const Py_ssize_t n = size - start;
    Item *items = PyMem_New(Item, n > 0 ? n : 1);
    if (items == NULL)
        return PyErr_NoMemory();
    Py_ssize_t total = 0;
    PyObject *result = NULL;
    if (!read_items(times, messages, fields, start, args[4], heads, head_count, octet_counting, items, &total)) {
        PyMem_Free(items);
        Py_RETURN_NONE;
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result != NULL) {
        Out out = {PyBytes_AS_STRING(result), PyBytes_AS_STRING(result) + total};
        if (!write_frames(items, n, heads, octet_counting, &out)) {
            Py_CLEAR(result);
            PyErr_SetString(PyExc_SystemError, "_syslog.frames: the output's size was miscounted");
        }
    }
    PyMem_Free(items);
    return result;
}

static PyMethodDef methods[] = {
    {"frames", (PyCFunction)(void (*)(void))frames, METH_FASTCALL,
     "A block's RFC 5424 frames from messages[start:] as bytes, or None to leave the block to the reference."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_syslog", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__syslog(void) { return PyModule_Create(&module); }
