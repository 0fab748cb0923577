/*
 * shipper.kernels._journal: the journal read through libsystemd directly, a block of entries into
 * records in one call.
 *
 * Reader(path=None, files=None) opens the journal as systemd-python's journal.Reader opens it (a
 * directory, a list of files, or the local machine's journal), and has the few calls the journald
 * source makes: seek_head, seek_tail, next, previous, cursor, seek_cursor, test_cursor, wait,
 * realtime, fields (what `_get_all` gives) and close, with the same results and errors (OSError with
 * libsystemd's errno).
 *
 * records(count, shared, miss) -> (records, invalid) reads up to `count` entries from the next one on
 * and gives what RecordMaker.record (shipper/sources/journald/fields.py, the reference) makes of
 * each when it does not keep every field: `(realtime_us * 1000, MESSAGE as text, fields)`, where
 * `fields` is the mapping `shared` holds for the entry's raw values of the kept fields (_SYSTEMD_UNIT,
 * SYSLOG_IDENTIFIER, _PID, _HOSTNAME, _BOOT_ID, PRIORITY, in that order, None for a missing one).
 * Every entry it cannot make so (its fields not in `shared` yet, a MESSAGE that is not UTF-8, a kept
 * field carried twice) goes to `miss(realtime_us, raw)`, `raw` holding MESSAGE and the kept fields as
 * `_get_all` holds them, which returns the reference's (record, invalid). Only the kept fields and
 * MESSAGE become Python objects; the entry's other fields are compared by name and left.
 *
 * Threads: the source calls a reader from worker threads, and libsystemd's calls run without the GIL;
 * a lock of the reader's own makes its calls one at a time (a close waits for a read in another thread
 * to end instead of freeing the journal under it).
 *
 * Bounds: libsystemd gives each field as (pointer, length) into its memory map, valid until the next
 * call on the journal: every value taken is copied into a bytes object before that call, and every
 * read stays within the length it gave (the name ends at the first '=' found by memchr within it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <systemd/sd-journal.h>

/* MESSAGE, then the kept fields in the order of fields.py's KEPT_WITH_PRIORITY */
static const char *const WANTED[] = {"MESSAGE", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_PID", "_HOSTNAME",
                                     "_BOOT_ID", "PRIORITY"};
#define WANTED_COUNT 7
#define KEPT_COUNT (WANTED_COUNT - 1)
static PyObject *WANTED_NAMES[WANTED_COUNT]; /* the names as interned str, for raw dicts */

typedef struct {
    PyObject_HEAD
    sd_journal *j;
    PyThread_type_lock lock; /* held by every call that uses j */
} Reader;

/* Takes the reader's lock, waiting for it without the GIL when another thread holds it. */
static void hold(Reader *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static void let_go(Reader *self) { PyThread_release_lock(self->lock); }

static PyObject *Reader_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Reader *self = (Reader *)PyType_GenericNew(type, args, kwargs);
    if (self == NULL)
        return NULL;
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static PyObject *failed(int r, const char *what)
{
    errno = -r;
    PyErr_SetFromErrnoWithFilename(PyExc_OSError, what);
    return NULL;
}

static int opened(Reader *self)
{
    if (self->j == NULL) {
        PyErr_SetString(PyExc_ValueError, "the journal is closed");
        return 0;
    }
    return 1;
}

/* a NULL-terminated array of copies of the list's paths; NULL with an exception set */
static char **paths_of(PyObject *files)
{
    if (!PyList_Check(files)) {
        PyErr_SetString(PyExc_TypeError, "files must be a list of paths");
        return NULL;
    }
    const Py_ssize_t count = PyList_GET_SIZE(files);
    char **paths = PyMem_Calloc((size_t)count + 1, sizeof(char *));
    if (paths == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count && i < PyList_GET_SIZE(files); i++) { /* i < both sizes */
        PyObject *encoded = NULL;
        if (!PyUnicode_FSConverter(PyList_GET_ITEM(files, i), &encoded))
            goto error;
        const char *path = PyBytes_AS_STRING(encoded);
        paths[i] = PyMem_Malloc(strlen(path) + 1);
        if (paths[i] != NULL)
            strcpy(paths[i], path); /* the buffer is strlen + 1 bytes */
        Py_DECREF(encoded);
        if (paths[i] == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    }
    return paths;
error:
    for (Py_ssize_t i = 0; i < count; i++) /* unset entries are NULL (calloc) */
        PyMem_Free(paths[i]);
    PyMem_Free(paths);
    return NULL;
}

static int Reader_init(Reader *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"path", "files", NULL};
    PyObject *path = Py_None, *files = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:Reader", names, &path, &files))
        return -1;
    if (self->j != NULL) {
        sd_journal_close(self->j);
        self->j = NULL;
    }
    int r;
    if (path != Py_None && files != Py_None) {
        PyErr_SetString(PyExc_ValueError, "path and files cannot be specified simultaneously");
        return -1;
    }
    if (path != Py_None) {
        PyObject *encoded = NULL;
        if (!PyUnicode_FSConverter(path, &encoded))
            return -1;
        Py_BEGIN_ALLOW_THREADS
        r = sd_journal_open_directory(&self->j, PyBytes_AS_STRING(encoded), 0);
        Py_END_ALLOW_THREADS
        Py_DECREF(encoded);
    } else if (files != Py_None) {
        char **paths = paths_of(files);
        if (paths == NULL)
            return -1;
        Py_BEGIN_ALLOW_THREADS
        r = sd_journal_open_files(&self->j, (const char **)paths, 0);
        Py_END_ALLOW_THREADS
        for (char **at = paths; *at != NULL; at++) /* NULL-terminated by paths_of */
            PyMem_Free(*at);
        PyMem_Free(paths);
    } else {
        Py_BEGIN_ALLOW_THREADS
        r = sd_journal_open(&self->j, SD_JOURNAL_LOCAL_ONLY);
        Py_END_ALLOW_THREADS
    }
    if (r < 0) {
        self->j = NULL;
        failed(r, "Opening the journal failed");
        return -1;
    }
    return 0;
}

static void Reader_dealloc(Reader *self)
{
    sd_journal_close(self->j); /* NULL is accepted; no call is running: each holds a reference */
    if (self->lock != NULL)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Reader_close(Reader *self, PyObject *Py_UNUSED(ignored))
{
    sd_journal_close(self->j);
    self->j = NULL;
    Py_RETURN_NONE;
}

/* `move` on the journal without the GIL; its result: None for a seek, else whether it moved. */
static PyObject *move_by(Reader *self, int (*move)(sd_journal *), const char *what, int moves)
{
    if (!opened(self))
        return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = move(self->j);
    Py_END_ALLOW_THREADS
    if (r < 0)
        return failed(r, what);
    if (!moves)
        Py_RETURN_NONE;
    return PyBool_FromLong(r > 0);
}

static PyObject *Reader_seek_head(Reader *self, PyObject *Py_UNUSED(ignored))
{
    return move_by(self, sd_journal_seek_head, "seek_head", 0);
}

static PyObject *Reader_seek_tail(Reader *self, PyObject *Py_UNUSED(ignored))
{
    return move_by(self, sd_journal_seek_tail, "seek_tail", 0);
}

static PyObject *Reader_next(Reader *self, PyObject *Py_UNUSED(ignored))
{
    return move_by(self, sd_journal_next, "moving in the journal failed", 1);
}

static PyObject *Reader_previous(Reader *self, PyObject *Py_UNUSED(ignored))
{
    return move_by(self, sd_journal_previous, "moving in the journal failed", 1);
}

static PyObject *Reader_cursor(Reader *self, PyObject *Py_UNUSED(ignored))
{
    if (!opened(self))
        return NULL;
    char *cursor = NULL;
    const int r = sd_journal_get_cursor(self->j, &cursor);
    if (r < 0)
        return failed(r, "get_cursor");
    PyObject *text = PyUnicode_FromString(cursor);
    free(cursor); /* allocated by libsystemd */
    return text;
}

static PyObject *Reader_seek_cursor(Reader *self, PyObject *cursor)
{
    if (!opened(self))
        return NULL;
    const char *text = PyUnicode_AsUTF8(cursor);
    if (text == NULL)
        return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = sd_journal_seek_cursor(self->j, text);
    Py_END_ALLOW_THREADS
    if (r < 0)
        return failed(r, "Invalid cursor");
    Py_RETURN_NONE;
}

static PyObject *Reader_test_cursor(Reader *self, PyObject *cursor)
{
    if (!opened(self))
        return NULL;
    const char *text = PyUnicode_AsUTF8(cursor);
    if (text == NULL)
        return NULL;
    const int r = sd_journal_test_cursor(self->j, text);
    if (r < 0)
        return failed(r, "test_cursor");
    return PyBool_FromLong(r > 0);
}

static PyObject *Reader_wait(Reader *self, PyObject *timeout)
{
    if (!opened(self))
        return NULL;
    const long long usec = PyLong_AsLongLong(timeout);
    if (usec == -1 && PyErr_Occurred())
        return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = sd_journal_wait(self->j, (uint64_t)usec); /* -1: forever, as libsystemd takes it */
    Py_END_ALLOW_THREADS
    if (r < 0)
        return failed(r, "wait");
    return PyLong_FromLong(r);
}

static PyObject *Reader_realtime(Reader *self, PyObject *Py_UNUSED(ignored))
{
    if (!opened(self))
        return NULL;
    uint64_t usec;
    const int r = sd_journal_get_realtime_usec(self->j, &usec);
    if (r < 0)
        return failed(r, "get_realtime");
    return PyLong_FromUnsignedLongLong(usec);
}

/* `raw[name] = value`, or a list of the values when the entry carries the field more than once */
static int add_value(PyObject *raw, PyObject *name, PyObject *value)
{
    PyObject *present = PyDict_GetItemWithError(raw, name);
    if (present == NULL)
        return PyErr_Occurred() ? -1 : PyDict_SetItem(raw, name, value);
    if (PyList_CheckExact(present))
        return PyList_Append(present, value);
    PyObject *both = PyList_New(2);
    if (both == NULL)
        return -1;
    Py_INCREF(present);
    Py_INCREF(value);
    PyList_SET_ITEM(both, 0, present); /* the list takes both references; 0, 1 < its size 2 */
    PyList_SET_ITEM(both, 1, value);
    const int r = PyDict_SetItem(raw, name, both);
    Py_DECREF(both);
    return r;
}

/* Every field of the current entry as `_get_all` gives it; with `only_wanted`, MESSAGE and the kept
   fields alone. `counts[w]`, when given, counts how often WANTED[w] came. */
static PyObject *entry_fields(sd_journal *j, int only_wanted, int *counts)
{
    PyObject *raw = PyDict_New();
    if (raw == NULL)
        return NULL;
    const void *data;
    size_t length;
    sd_journal_restart_data(j);
    while (sd_journal_enumerate_data(j, &data, &length) > 0) { /* an error ends it, as in SD_JOURNAL_FOREACH_DATA */
        const char *field = data;
        const char *equals = memchr(field, '=', length);
        if (equals == NULL) {
            PyErr_SetString(PyExc_OSError, "journal gave us a field without '='");
            goto error;
        }
        const size_t name_length = (size_t)(equals - field); /* < length: equals is within the data */
        PyObject *name = NULL;
        int wanted = -1;
        for (int w = 0; w < WANTED_COUNT; w++) /* w < the size of WANTED */
            if (strlen(WANTED[w]) == name_length && memcmp(WANTED[w], field, name_length) == 0)
                wanted = w;
        if (wanted >= 0) {
            name = WANTED_NAMES[wanted];
            Py_INCREF(name);
            if (counts != NULL)
                counts[wanted]++;
        } else if (only_wanted) {
            continue;
        } else {
            name = PyUnicode_FromStringAndSize(field, (Py_ssize_t)name_length);
            if (name == NULL)
                goto error;
        }
        PyObject *value = PyBytes_FromStringAndSize(equals + 1, (Py_ssize_t)(length - name_length - 1));
        const int r = value == NULL ? -1 : add_value(raw, name, value);
        Py_DECREF(name);
        Py_XDECREF(value);
        if (r < 0)
            goto error;
    }
    return raw;
error:
    Py_DECREF(raw);
    return NULL;
}

static PyObject *Reader_fields(Reader *self, PyObject *Py_UNUSED(ignored))
{
    if (!opened(self))
        return NULL;
    return entry_fields(self->j, 0, NULL);
}

static PyObject *record_with(PyObject *raw, uint64_t usec, PyObject *fields, int *missed);

/* The record of the current entry, made here when `shared` knows its kept fields; NULL and
   `*missed` set when it is the reference's to make; NULL without `*missed`: an exception. */
static PyObject *record_of(PyObject *raw, const int *counts, uint64_t usec, PyObject *shared, int *missed)
{
    *missed = 0;
    for (int w = 0; w < WANTED_COUNT; w++) /* w < the size of counts */
        if (counts[w] > 1) {
            *missed = 1;
            return NULL;
        }
    PyObject *key = PyTuple_New(KEPT_COUNT);
    if (key == NULL)
        return NULL;
    for (int k = 0; k < KEPT_COUNT; k++) { /* k < the tuple's size; k + 1 < WANTED_COUNT */
        PyObject *value = PyDict_GetItemWithError(raw, WANTED_NAMES[k + 1]);
        if (value == NULL && PyErr_Occurred()) {
            Py_DECREF(key);
            return NULL;
        }
        value = value == NULL ? Py_None : value;
        Py_INCREF(value);
        PyTuple_SET_ITEM(key, k, value);
    }
    PyObject *fields = PyDict_GetItemWithError(shared, key);
    Py_DECREF(key);
    if (fields == NULL) {
        *missed = !PyErr_Occurred();
        return NULL;
    }
    Py_INCREF(fields); /* held: `shared` is the reference's cache, which may be cleared */
    PyObject *record = record_with(raw, usec, fields, missed);
    Py_DECREF(fields);
    return record;
}

/* (timestamp, MESSAGE as text, fields); NULL with `*missed` set for a MESSAGE that is not UTF-8. */
static PyObject *record_with(PyObject *raw, uint64_t usec, PyObject *fields, int *missed)
{
    PyObject *message = PyDict_GetItemWithError(raw, WANTED_NAMES[0]);
    if (message == NULL && PyErr_Occurred())
        return NULL;
    PyObject *text = message == NULL ? PyUnicode_FromStringAndSize("", 0)
                                     : PyUnicode_DecodeUTF8(PyBytes_AS_STRING(message), PyBytes_GET_SIZE(message),
                                                            "strict");
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return NULL;
        PyErr_Clear();
        *missed = 1; /* the reference replaces the bytes that are not UTF-8 and counts the entry */
        return NULL;
    }
    PyObject *timestamp = usec <= (uint64_t)(INT64_MAX / 1000) ? PyLong_FromLongLong((long long)usec * 1000) : NULL;
    if (timestamp == NULL && !PyErr_Occurred()) { /* past 64 bits in nanoseconds: as Python multiplies */
        PyObject *micro = PyLong_FromUnsignedLongLong(usec), *thousand = PyLong_FromLong(1000);
        timestamp = micro != NULL && thousand != NULL ? PyNumber_Multiply(micro, thousand) : NULL;
        Py_XDECREF(micro);
        Py_XDECREF(thousand);
    }
    if (timestamp == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    PyObject *record = PyTuple_Pack(3, timestamp, text, fields);
    Py_DECREF(timestamp);
    Py_DECREF(text);
    return record;
}

static PyObject *Reader_records(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "records(count, shared, miss)");
        return NULL;
    }
    if (!opened(self))
        return NULL;
    const Py_ssize_t count = PyLong_AsSsize_t(args[0]);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    PyObject *shared = args[1], *miss = args[2];
    if (!PyDict_Check(shared)) {
        PyErr_SetString(PyExc_TypeError, "shared must be a dict");
        return NULL;
    }
    PyObject *records = PyList_New(0);
    if (records == NULL)
        return NULL;
    long invalid = 0;
    for (Py_ssize_t n = 0; n < count; n++) {
        int r;
        Py_BEGIN_ALLOW_THREADS
        r = sd_journal_next(self->j);
        Py_END_ALLOW_THREADS
        if (r < 0) {
            failed(r, "moving in the journal failed");
            goto error;
        }
        if (r == 0)
            break;
        uint64_t usec;
        r = sd_journal_get_realtime_usec(self->j, &usec);
        if (r < 0) {
            failed(r, "get_realtime");
            goto error;
        }
        int counts[WANTED_COUNT] = {0};
        PyObject *raw = entry_fields(self->j, 1, counts);
        if (raw == NULL)
            goto error;
        int missed;
        PyObject *record = record_of(raw, counts, usec, shared, &missed);
        if (record == NULL && missed) { /* the reference makes it: (record, invalid) */
            PyObject *made = PyObject_CallFunction(miss, "KO", (unsigned long long)usec, raw);
            if (made != NULL && (!PyTuple_Check(made) || PyTuple_GET_SIZE(made) != 2)) {
                PyErr_SetString(PyExc_TypeError, "miss must return (record, invalid)");
                Py_CLEAR(made);
            }
            if (made != NULL) {
                record = PyTuple_GET_ITEM(made, 0); /* 0, 1 < the tuple's size 2 */
                Py_INCREF(record);
                const int bad = PyObject_IsTrue(PyTuple_GET_ITEM(made, 1));
                invalid += bad > 0;
                Py_DECREF(made);
                if (bad < 0)
                    Py_CLEAR(record);
            }
        }
        Py_DECREF(raw);
        if (record == NULL || PyList_Append(records, record) < 0) {
            Py_XDECREF(record);
            goto error;
        }
        Py_DECREF(record);
    }
    return Py_BuildValue("(Nl)", records, invalid);
error:
    Py_DECREF(records);
    return NULL;
}

/* Each method as the type exposes it: the call with the reader's lock held. */
#define LOCKED(name, Arg)                                                                                      \
    static PyObject *Locked_##name(Reader *self, Arg arg)                                                      \
    {                                                                                                          \
        hold(self);                                                                                            \
        PyObject *result = Reader_##name(self, arg);                                                           \
        let_go(self);                                                                                          \
        return result;                                                                                         \
    }
LOCKED(seek_head, PyObject *)
LOCKED(seek_tail, PyObject *)
LOCKED(next, PyObject *)
LOCKED(previous, PyObject *)
LOCKED(cursor, PyObject *)
LOCKED(seek_cursor, PyObject *)
LOCKED(test_cursor, PyObject *)
LOCKED(wait, PyObject *)
LOCKED(realtime, PyObject *)
LOCKED(fields, PyObject *)
LOCKED(close, PyObject *)

static PyObject *Locked_records(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    hold(self);
    PyObject *result = Reader_records(self, args, nargs);
    let_go(self);
    return result;
}

static int Locked_init(Reader *self, PyObject *args, PyObject *kwargs)
{
    hold(self);
    const int result = Reader_init(self, args, kwargs);
    let_go(self);
    return result;
}

static PyMethodDef Reader_methods[] = {
    {"seek_head", (PyCFunction)Locked_seek_head, METH_NOARGS, "Before the first entry."},
    {"seek_tail", (PyCFunction)Locked_seek_tail, METH_NOARGS, "After the last entry."},
    {"next", (PyCFunction)Locked_next, METH_NOARGS, "To the next entry; False at the end."},
    {"previous", (PyCFunction)Locked_previous, METH_NOARGS, "To the previous entry; False at the start."},
    {"cursor", (PyCFunction)Locked_cursor, METH_NOARGS, "The current entry's cursor."},
    {"seek_cursor", (PyCFunction)Locked_seek_cursor, METH_O, "To the entry of a cursor (or the nearest)."},
    {"test_cursor", (PyCFunction)Locked_test_cursor, METH_O, "Whether the current entry is the cursor's."},
    {"wait", (PyCFunction)Locked_wait, METH_O, "Wait up to `usec` microseconds (-1: forever) for a change."},
    {"realtime", (PyCFunction)Locked_realtime, METH_NOARGS, "The current entry's time, in microseconds."},
    {"fields", (PyCFunction)Locked_fields, METH_NOARGS, "Every field of the current entry, as _get_all."},
    {"records", (PyCFunction)(void (*)(void))Locked_records, METH_FASTCALL,
     "Up to `count` entries from the next one as records, and how many had a MESSAGE that is not UTF-8."},
    {"close", (PyCFunction)Locked_close, METH_NOARGS, "Close the journal."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shipper.kernels._journal.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The journal, read through libsystemd.",
    .tp_new = Reader_new,
    .tp_init = (initproc)Locked_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_journal", NULL, -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__journal(void)
{
    for (int w = 0; w < WANTED_COUNT; w++) { /* w < the size of both arrays */
        WANTED_NAMES[w] = PyUnicode_InternFromString(WANTED[w]);
        if (WANTED_NAMES[w] == NULL)
            return NULL;
    }
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
