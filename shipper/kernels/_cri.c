/*
 * shipper.kernels._cri: the CRI decoder's whole-line path over a block of lines, in one call.
 *
 * whole_lines(texts, start, out, stdout_fields, stderr_fields) -> int
 *
 * From texts[start], appends (timestamp_ns, message, fields) to `out` for each line of the form
 * `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ stdout|stderr F message` and returns the index of the first line it
 * does not take (len(texts) when it took them all). It takes a line only where the reference path
 * (CriDecoder._decode_one in shipper/sources/files/container_formats.py) gives exactly the record it
 * makes; every other line is left to that reference, so the results are equal by construction.
 *
 * Bounds: a line is read only at indexes 0..39, after checking that it holds at least 40 code points;
 * texts is a list whose length is read once and re-checked against its current size on every step
 * (a list cannot change under us while we hold the GIL and call no Python code, but we check anyway).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define HEAD 40 /* "2026-11-22T10:15:00.123456789Z stdout F " */

static const char STDOUT_TAIL[] = "Z stdout F "; /* text[29:40] */
static const char STDERR_TAIL[] = "Z stderr F ";

/* Digits at text[from:to], all ASCII '0'-'9'; -1 otherwise. to - from <= 9: fits in int64. */
static int64_t digits(int kind, const void *data, Py_ssize_t from, Py_ssize_t to)
{
    int64_t value = 0;
    for (Py_ssize_t i = from; i < to; i++) { /* from < to <= HEAD <= length: checked by the caller */
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (int64_t)(c - '0');
    }
    return value;
}

static int matches(int kind, const void *data, Py_ssize_t at, const char *expected, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++) /* at + count <= HEAD <= length: checked by the caller */
        if (PyUnicode_READ(kind, data, at + i) != (Py_UCS4)(unsigned char)expected[i])
            return 0;
    return 1;
}

static int leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

static int days_in_month(int64_t year, int64_t month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1]; /* 1 <= month <= 12: checked by the caller */
}

/* Days from 1970-01-01 to the date (proleptic Gregorian), as calendar.timegm counts them. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * The line's nanoseconds since the epoch, or -1 when the kernel leaves the line to the reference.
 * Years 1970-2261 only: their nanoseconds fit in int64 (the reference takes any year; a rarer one
 * goes to it). Seconds up to 61, as time.strptime's %S takes them (calendar.timegm adds them up).
 */
static int64_t stamp_ns(int kind, const void *data)
{
    if (!matches(kind, data, 4, "-", 1) || !matches(kind, data, 7, "-", 1) || !matches(kind, data, 13, ":", 1)
        || !matches(kind, data, 16, ":", 1) || !matches(kind, data, 19, ".", 1))
        return -1;
    Py_UCS4 t = PyUnicode_READ(kind, data, 10);
    if (t != 'T' && t != 't')
        return -1;
    int64_t year = digits(kind, data, 0, 4), month = digits(kind, data, 5, 7), day = digits(kind, data, 8, 10);
    int64_t hour = digits(kind, data, 11, 13), minute = digits(kind, data, 14, 16);
    int64_t second = digits(kind, data, 17, 19), fraction = digits(kind, data, 20, 29);
    if (year < 1970 || year > 2261 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0
        || minute > 59 || second < 0 || second > 61 || fraction < 0)
        return -1;
    if (day > days_in_month(year, month))
        return -1;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    return seconds * 1000000000 + fraction; /* < 2262-01-01 in ns: below INT64_MAX */
}

static PyObject *whole_lines(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "whole_lines(texts, start, out, stdout_fields, stderr_fields)");
        return NULL;
    }
    PyObject *texts = args[0], *out = args[2], *stdout_fields = args[3], *stderr_fields = args[4];
    if (!PyList_CheckExact(texts) || !PyList_CheckExact(out)) {
        PyErr_SetString(PyExc_TypeError, "texts and out must be lists");
        return NULL;
    }
    Py_ssize_t index = PyLong_AsSsize_t(args[1]);
    if (index == -1 && PyErr_Occurred())
        return NULL;
    if (index < 0)
        index = 0;
    for (; index < PyList_GET_SIZE(texts); index++) { /* 0 <= index < size: a valid item */
        PyObject *text = PyList_GET_ITEM(texts, index);
        if (!PyUnicode_CheckExact(text))
            break;
        Py_ssize_t length = PyUnicode_GET_LENGTH(text);
        if (length < HEAD)
            break;
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        PyObject *fields;
        if (matches(kind, data, 29, STDOUT_TAIL, 11))
            fields = stdout_fields;
        else if (matches(kind, data, 29, STDERR_TAIL, 11))
            fields = stderr_fields;
        else
            break;
        int64_t ns = stamp_ns(kind, data);
        if (ns < 0)
            break;
        PyObject *message = PyUnicode_Substring(text, HEAD, length); /* HEAD <= length */
        if (message == NULL)
            return NULL;
        PyObject *timestamp = PyLong_FromLongLong(ns);
        if (timestamp == NULL) {
            Py_DECREF(message);
            return NULL;
        }
        PyObject *record = PyTuple_New(3);
        if (record == NULL) {
            Py_DECREF(message);
            Py_DECREF(timestamp);
            return NULL;
        }
        Py_INCREF(fields);
        PyTuple_SET_ITEM(record, 0, timestamp); /* the tuple takes each reference */
        PyTuple_SET_ITEM(record, 1, message);
        PyTuple_SET_ITEM(record, 2, fields);
        int failed = PyList_Append(out, record);
        Py_DECREF(record);
        if (failed)
            return NULL;
    }
    return PyLong_FromSsize_t(index);
}

static PyMethodDef methods[] = {
    {"whole_lines", (PyCFunction)(void (*)(void))whole_lines, METH_FASTCALL,
     "Whole CRI lines from texts[start] into out; returns the index of the first line not taken."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cri", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cri(void) { return PyModule_Create(&module); }
