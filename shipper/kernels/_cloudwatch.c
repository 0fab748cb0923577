/*
 * shipper.kernels._cloudwatch: the events of a block's records for PutLogEvents, in one call.
 *
 * events(timestamps_ns, messages, max_event_size) -> (events, millis, sizes) | None | NotImplemented
 *
 * What `one_event_each` (shipper/sinks/cloudwatch/batch.py, the reference) gives: when every message is
 * ASCII, not empty and at most `max_event_size - 26` bytes (each record is then one event, a character
 * a byte), the events `{"timestamp": ms, "message": text}` (ms = timestamp_ns // 10**6, floored), their
 * milliseconds and their sizes; None when any message is not such (the caller then splits or
 * replaces record by record). NotImplemented hands the call back to the reference for what this
 * kernel does not take: arguments that are not lists, lists of different lengths, a message that is
 * not exactly a str, a timestamp that is not exactly an int within 64 bits.
 *
 * Bounds: indexes run below the lists' sizes. The kernel calls no Python code, so the lists cannot
 * change while it runs; the sizes are checked again at every step all the same (an allocation may
 * run the garbage collector).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define EVENT_OVERHEAD 26 /* bytes CloudWatch counts per event beside its message */
#define NS_PER_MS 1000000

static PyObject *TIMESTAMP_KEY, *MESSAGE_KEY;

/* 1 and the nanoseconds when `timestamp` is exactly an int within 64 bits; 0 otherwise. */
static int nanoseconds(PyObject *timestamp, long long *ns)
{
    if (!PyLong_CheckExact(timestamp))
        return 0;
    int overflow = 0;
    *ns = PyLong_AsLongLongAndOverflow(timestamp, &overflow);
    if (overflow || (*ns == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* The millisecond of a timestamp, floored as Python's // floors. */
static long long floor_ms(long long ns)
{
    long long ms = ns / NS_PER_MS;
    if (ns % NS_PER_MS != 0 && ns < 0) /* C truncates toward zero */
        ms -= 1;
    return ms;
}

static int all_nanoseconds(PyObject *timestamps)
{
    long long ns;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(timestamps); i++) /* i < the list's size */
        if (!nanoseconds(PyList_GET_ITEM(timestamps, i), &ns))
            return 0;
    return 1;
}

/* 1: every message is one event; 0: not (the reference's None); -1: a message is not exactly a str. */
static int one_each(PyObject *messages, Py_ssize_t max_event_size)
{
    const Py_ssize_t count = PyList_GET_SIZE(messages);
    int all_fit = count > 0;
    for (Py_ssize_t i = 0; i < count; i++) { /* i < the list's size */
        PyObject *message = PyList_GET_ITEM(messages, i);
        if (!PyUnicode_CheckExact(message))
            return -1;
        const Py_ssize_t length = PyUnicode_GET_LENGTH(message);
        if (length == 0 || length > max_event_size - EVENT_OVERHEAD || !PyUnicode_IS_ASCII(message))
            all_fit = 0; /* go on: a later message that is not a str hands the call back */
    }
    return all_fit;
}

static PyObject *event(PyObject *ms, PyObject *message)
{
    PyObject *item = PyDict_New();
    if (item == NULL)
        return NULL;
    if (PyDict_SetItem(item, TIMESTAMP_KEY, ms) < 0 || PyDict_SetItem(item, MESSAGE_KEY, message) < 0) {
        Py_DECREF(item);
        return NULL;
    }
    return item;
}

/* Fills the three lists (each of `count` slots, set here one by one); 0 with an exception set. */
static int fill(PyObject *timestamps, PyObject *messages, Py_ssize_t count, PyObject *events, PyObject *millis,
                PyObject *sizes)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyList_GET_SIZE(timestamps) != count || PyList_GET_SIZE(messages) != count) {
            PyErr_SetString(PyExc_RuntimeError, "_cloudwatch.events: a list changed while it was read");
            return 0;
        }
        PyObject *message = PyList_GET_ITEM(messages, i); /* i < count = both sizes, checked above */
        long long ns;
        if (!PyUnicode_CheckExact(message) || !nanoseconds(PyList_GET_ITEM(timestamps, i), &ns)) {
            PyErr_SetString(PyExc_RuntimeError, "_cloudwatch.events: a list changed while it was read");
            return 0;
        }
        PyObject *ms = PyLong_FromLongLong(floor_ms(ns));
        if (ms == NULL)
            return 0;
        PyObject *size = PyLong_FromSsize_t(PyUnicode_GET_LENGTH(message));
        PyObject *item = size == NULL ? NULL : event(ms, message);
        if (item == NULL) {
            Py_DECREF(ms);
            Py_XDECREF(size);
            return 0;
        }
        PyList_SET_ITEM(events, i, item); /* each list takes the reference; i < count = its size */
        PyList_SET_ITEM(millis, i, ms);
        PyList_SET_ITEM(sizes, i, size);
    }
    return 1;
}

static PyObject *events(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "events(timestamps_ns, messages, max_event_size)");
        return NULL;
    }
    PyObject *timestamps = args[0], *messages = args[1];
    const Py_ssize_t max_event_size = PyLong_AsSsize_t(args[2]);
    if (max_event_size == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_CheckExact(timestamps) || !PyList_CheckExact(messages)
        || PyList_GET_SIZE(timestamps) != PyList_GET_SIZE(messages))
        Py_RETURN_NOTIMPLEMENTED;
    const int each = one_each(messages, max_event_size);
    if (each < 0)
        Py_RETURN_NOTIMPLEMENTED;
    if (each == 0)
        Py_RETURN_NONE;
    if (!all_nanoseconds(timestamps))
        Py_RETURN_NOTIMPLEMENTED;
    const Py_ssize_t count = PyList_GET_SIZE(messages);
    PyObject *events = PyList_New(count), *millis = PyList_New(count), *sizes = PyList_New(count);
    /* a list from PyList_New holds NULLs until set: fill sets every slot or fails, and a failed list's
       unset slots are NULL, which its deallocation skips */
    if (events == NULL || millis == NULL || sizes == NULL
        || !fill(timestamps, messages, count, events, millis, sizes)) {
        Py_XDECREF(events);
        Py_XDECREF(millis);
        Py_XDECREF(sizes);
        return NULL;
    }
    return Py_BuildValue("(NNN)", events, millis, sizes);
}

static PyMethodDef methods[] = {
    {"events", (PyCFunction)(void (*)(void))events, METH_FASTCALL,
     "The PutLogEvents events of records that are one event each, their milliseconds and sizes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cloudwatch", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cloudwatch(void)
{
    TIMESTAMP_KEY = PyUnicode_InternFromString("timestamp");
    MESSAGE_KEY = PyUnicode_InternFromString("message");
    if (TIMESTAMP_KEY == NULL || MESSAGE_KEY == NULL)
        return NULL;
    return PyModule_Create(&module);
}
