/*
 * What the kernels that write text share: a str's UTF-8 without a copy, UTC date-time texts, and a
 * bounded writer into an output sized by a first pass.
 * Included by each kernel's .c (static functions: each extension has its own copy, no shared symbol).
 */
#ifndef SHIPPER_KERNELS_TEXT_H
#define SHIPPER_KERNELS_TEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *data;
    Py_ssize_t size;
} Text;

/* Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's civil_from_days). */
static inline void civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t doe = days - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static inline void put_digits(char *at, int64_t value, int width) /* writes exactly `width` bytes at `at` */
{
    for (int i = width - 1; i >= 0; i--) {
        at[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* "YYYY-MM-DDTHH:MM:SS." of `second` (>= 0 and < 2**63 / 10**9: a year of 4 digits) into text[0:20]. */
static inline void second_text(int64_t second, char *text)
{
    int64_t year;
    int month, day;
    const int64_t of_day = second % 86400;
    civil_from_days(second / 86400, &year, &month, &day);
    memcpy(text, "0000-00-00T00:00:00.", 20);
    put_digits(text, year, 4);
    put_digits(text + 5, month, 2);
    put_digits(text + 8, day, 2);
    put_digits(text + 11, of_day / 3600, 2);
    put_digits(text + 14, of_day / 60 % 60, 2);
    put_digits(text + 17, of_day % 60, 2);
}

/* The message's UTF-8 without copying it (ASCII strs hold it; others cache it on the str); 0 on failure. */
static inline int utf8_of(PyObject *text, Text *out)
{
    if (!PyUnicode_CheckExact(text))
        return 0;
    if (PyUnicode_IS_ASCII(text)) {
        out->data = (const char *)PyUnicode_DATA(text);
        out->size = PyUnicode_GET_LENGTH(text);
        return 1;
    }
    out->data = PyUnicode_AsUTF8AndSize(text, &out->size);
    if (out->data == NULL) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

typedef struct {
    char *at, *end;
} Out;

/* Copies `size` bytes; refuses (0) a write past the end, which the first pass's sizes rule out. */
static inline int put(Out *out, const char *data, Py_ssize_t size)
{
    if (size > out->end - out->at)
        return 0;
    memcpy(out->at, data, (size_t)size);
    out->at += size;
    return 1;
}

#endif
