/*
 * The opentelemetry sink's kernel: a block's records as OTLP LogRecords in the protobuf wire format,
 * each as a ScopeLogs holds it (field 2, its length first), byte for byte what
 * sinks/opentelemetry/protobuf.py `log_records` writes (tests/kernels/test_otlp.py holds them equal).
 *
 *   log_records(times, observed_ns, messages, severities, attributes) -> list[bytes] | None
 *
 * A record: 0x12 varint(size) | 0x09 time (8 bytes LE) | 0x59 observed (8 bytes LE) | severity |
 * 0x2a varint(body size) 0x0a varint(n) message UTF-8 (n bytes) | attributes. Times before 1970 are 0.
 *
 * None hands the block back to the reference: the lists differ in length, a time or observed_ns is
 * not an int within int64, a message is not a str or has no UTF-8 (a lone surrogate), a severity or
 * attributes part is not bytes.
 *
 * Bounds: a record's size is summed from its parts' sizes first (each a Py_ssize_t of an existing
 * object, so the sum stays far below 2^63), the bytes object is allocated at exactly that size, and
 * every write goes through `put` (text.h), which refuses one past the end.
 */
#include "text.h"

static int varint_size(uint64_t value)
{
    int size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size; /* at most 10 */
}

static int put_varint(Out *out, uint64_t value)
{
    char bytes[10];
    int n = 0;
    while (value >= 0x80) { /* n < 9 here: a uint64_t has 64 bits, 7 a byte */
        bytes[n++] = (char)((value & 0x7f) | 0x80);
        value >>= 7;
    }
    bytes[n++] = (char)value;
    return put(out, bytes, n);
}

static int put_fixed64(Out *out, uint64_t value)
{
    char bytes[8];
    for (int i = 0; i < 8; i++) /* little-endian whatever the machine's order */
        bytes[i] = (char)(value >> (8 * i) & 0xff);
    return put(out, bytes, 8);
}

/* An int within int64 as its time field's value (0 before 1970); -1 when it is not one. */
static int time_of(PyObject *value, uint64_t *out)
{
    if (!PyLong_CheckExact(value))
        return -1;
    int overflow = 0;
    long long ns = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || (ns == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    *out = ns > 0 ? (uint64_t)ns : 0;
    return 0;
}

/* One record, or NULL: with an error set on a failure, without one to hand back. */
static PyObject *record(PyObject *time, const char *observed, PyObject *message, PyObject *severity,
                        PyObject *attributes)
{
    uint64_t ns;
    Text text;
    if (time_of(time, &ns) < 0 || !utf8_of(message, &text) || !PyBytes_CheckExact(severity)
        || !PyBytes_CheckExact(attributes))
        return NULL;
    Py_ssize_t severity_size = PyBytes_GET_SIZE(severity), attributes_size = PyBytes_GET_SIZE(attributes);
    uint64_t n = (uint64_t)text.size;
    uint64_t any_size = 1 + (uint64_t)varint_size(n) + n;
    uint64_t record_size = 9 + 9 + (uint64_t)severity_size + 1 + (uint64_t)varint_size(any_size) + any_size
                           + (uint64_t)attributes_size;
    uint64_t total = 1 + (uint64_t)varint_size(record_size) + record_size;
    PyObject *made = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (made == NULL)
        return NULL;
    Out out = {PyBytes_AS_STRING(made), PyBytes_AS_STRING(made) + total}; /* `total` bytes allocated */
    int written = put(&out, "\x12", 1) && put_varint(&out, record_size) && put(&out, "\x09", 1)
                  && put_fixed64(&out, ns) && put(&out, observed, 9)
                  && put(&out, PyBytes_AS_STRING(severity), severity_size) && put(&out, "\x2a", 1)
                  && put_varint(&out, any_size) && put(&out, "\x0a", 1) && put_varint(&out, n)
                  && put(&out, text.data, text.size) && put(&out, PyBytes_AS_STRING(attributes), attributes_size);
    if (!written || out.at != out.end) {
        Py_DECREF(made);
        PyErr_SetString(PyExc_SystemError, "an OTLP record's size was miscounted"); /* unreachable */
        return NULL;
    }
    return made;
}

static PyObject *log_records(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "log_records(times, observed_ns, messages, severities, attributes)");
        return NULL;
    }
    PyObject *times = args[0], *messages = args[2], *severities = args[3], *attributes = args[4];
    uint64_t observed_ns;
    if (!PyList_CheckExact(times) || !PyList_CheckExact(messages) || !PyList_CheckExact(severities)
        || !PyList_CheckExact(attributes) || time_of(args[1], &observed_ns) < 0)
        Py_RETURN_NONE;
    Py_ssize_t count = PyList_GET_SIZE(times);
    if (PyList_GET_SIZE(messages) != count || PyList_GET_SIZE(severities) != count
        || PyList_GET_SIZE(attributes) != count)
        Py_RETURN_NONE;
    char observed[9] = {0x59};
    Out observed_out = {observed + 1, observed + 9};
    put_fixed64(&observed_out, observed_ns); /* 8 bytes into the 8 after the key */
    PyObject *out = PyList_New(count);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) { /* i < count: the size of each list, checked above */
        PyObject *made = record(PyList_GET_ITEM(times, i), observed, PyList_GET_ITEM(messages, i),
                                PyList_GET_ITEM(severities, i), PyList_GET_ITEM(attributes, i));
        if (made == NULL) {
            Py_DECREF(out);
            if (PyErr_Occurred())
                return NULL;
            Py_RETURN_NONE;
        }
        PyList_SET_ITEM(out, i, made); /* the list takes the reference */
    }
    return out;
}

static PyMethodDef methods[] = {
    {"log_records", (PyCFunction)(void (*)(void))log_records, METH_FASTCALL,
     "A block's records as OTLP LogRecords (protobuf, as a ScopeLogs holds each), or None to hand back."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_otlp", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__otlp(void) { return PyModule_Create(&module); }
