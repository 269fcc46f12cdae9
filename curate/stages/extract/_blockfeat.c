/* The block pass in C: resiliparse's minimal-HTML lines -> blocks, and blocks -> the block model's features.
 *
 * Two functions that do, per page, exactly what blocks.parse_blocks' line loop and block_model.block_features
 * do in Python (those stay the reference; tests/test_extract_blockfeat.py checks both give the same output on
 * built pages and on both dev sets). The Python versions cost ~1.3 ms a page in ~60 numpy calls and a regex or
 * two per line; here one pass over the lines and two over the blocks.
 *
 * Every regex of the Python code is matched here as Python's `re` matches it on str patterns: \d is
 * Py_UNICODE_ISDECIMAL, \s Py_UNICODE_ISSPACE, \w Py_UNICODE_ISALNUM or '_', str.strip() strips
 * Py_UNICODE_ISSPACE, str.lower() is the simple lowercase mapping except U+0130 (full mapping "i\u0307").
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- shared helpers */

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
} ustr;

static inline void ustr_of(PyObject *s, ustr *u) {
    u->kind = PyUnicode_KIND(s);
    u->data = PyUnicode_DATA(s);
    u->len = PyUnicode_GET_LENGTH(s);
}

#define AT(u, i) PyUnicode_READ((u)->kind, (u)->data, (i))

/* re's \w, \d and \s and str.strip()'s whitespace, with the ASCII answers inline (most characters) */
static inline int is_word(Py_UCS4 c) {
    if (c < 128)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    return Py_UNICODE_ISALNUM(c);
}
static inline int is_digit(Py_UCS4 c) { return c < 128 ? c >= '0' && c <= '9' : Py_UNICODE_ISDECIMAL(c); }
static inline int is_space(Py_UCS4 c) {
    return c < 128 ? c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) : Py_UNICODE_ISSPACE(c);
}

/* re's \b at position p of s[begin:end) */
static inline int word_boundary(const ustr *u, Py_ssize_t p, Py_ssize_t end) {
    int before = p > 0 ? is_word(AT(u, p - 1)) : 0;
    int here = p < end ? is_word(AT(u, p)) : 0;
    return before != here;
}

/* ---------------------------------------------------------------- parse: blocks.parse_blocks */

/* The page's output is copied to UCS-4 once (a few µs): every scan below is then a plain array walk. */

enum { T_NONE, T_P, T_H1, T_H2, T_H3, T_H4, T_H5, T_H6, T_LI, T_PRE, N_TAGS };
static const char *TAG_NAMES[N_TAGS] = {"", "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre"};
static PyObject *TAG_STR[N_TAGS];
/* block_model._TAG_CODE: p 0, h1-3 1, h4-6 2, li 3, pre 4, bare 5 */
static const int TAG_CODE[N_TAGS] = {5, 0, 1, 1, 1, 2, 2, 2, 3, 4};

static inline int wb4(const Py_UCS4 *s, Py_ssize_t p, Py_ssize_t end) { /* re's \b in s[0:end) */
    int before = p > 0 ? is_word(s[p - 1]) : 0;
    int here = p < end ? is_word(s[p]) : 0;
    return before != here;
}

/* `<(/?)(p|h[1-6]|li|pre)\b` at p (s[p] == '<'): the tag (0 if none), whether closing, where the match ends */
static int block_event(const Py_UCS4 *s, Py_ssize_t p, Py_ssize_t end, int *closing, Py_ssize_t *stop) {
    Py_ssize_t q = p + 1;
    *closing = 0;
    if (q < end && s[q] == '/') {
        *closing = 1;
        q++;
    }
    if (q >= end)
        return 0;
    Py_UCS4 c = s[q];
    if (c == 'p') {
        if (wb4(s, q + 1, end)) {
            *stop = q + 1;
            return T_P;
        }
        if (q + 2 < end && s[q + 1] == 'r' && s[q + 2] == 'e' && wb4(s, q + 3, end)) {
            *stop = q + 3;
            return T_PRE;
        }
        return 0;
    }
    if (c == 'h' && q + 1 < end) {
        Py_UCS4 d = s[q + 1];
        if (d >= '1' && d <= '6' && wb4(s, q + 2, end)) {
            *stop = q + 2;
            return T_H1 + (int)(d - '1');
        }
        return 0;
    }
    if (c == 'l' && q + 1 < end && s[q + 1] == 'i' && wb4(s, q + 2, end)) {
        *stop = q + 2;
        return T_LI;
    }
    return 0;
}

/* sum of len(group 1) of `<a\b[^>]*>(.*?)</a>` (re.S) over the line's matches */
static Py_ssize_t link_chars(const Py_UCS4 *s, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t total = 0, p = start;
    while (p + 1 < end) {
        if (s[p] != '<' || s[p + 1] != 'a' || !wb4(s, p + 2, end)) {
            p++;
            continue;
        }
        Py_ssize_t g = p + 2;
        while (g < end && s[g] != '>')
            g++;
        if (g >= end)
            break; /* no '>' here, so none after any later "<a" either */
        Py_ssize_t q = g + 1;
        while (q + 3 < end && !(s[q] == '<' && s[q + 1] == '/' && s[q + 2] == 'a' && s[q + 3] == '>'))
            q++;
        if (q + 3 >= end)
            break; /* no "</a>" after this one, nor after a later one */
        total += q - (g + 1);
        p = q + 4;
    }
    return total;
}

/* An article marker `([\x1e\x1f])(\d{1,2})\1` at p: its number (and opening or not), -1 if none. */
static int marker_at(const Py_UCS4 *s, Py_ssize_t p, Py_ssize_t end, int *opening, Py_ssize_t *stop) {
    Py_UCS4 c = s[p];
    if (c != 0x1e && c != 0x1f)
        return -1;
    for (int digits = 2; digits >= 1; digits--) { /* greedy \d{1,2}, then backtrack */
        if (p + 1 + digits >= end)
            continue;
        int value = 0, ok = 1;
        for (int k = 0; k < digits; k++) {
            Py_UCS4 d = s[p + 1 + k];
            if (!is_digit(d)) {
                ok = 0;
                break;
            }
            value = value * 10 + Py_UNICODE_TODECIMAL(d);
        }
        if (ok && s[p + 1 + digits] == c) {
            *opening = c == 0x1e;
            *stop = p + 2 + digits;
            return value;
        }
    }
    return -1;
}

typedef struct {
    Py_ssize_t raw_end, plain_end; /* where the line ends in the output and in its tag-stripped copy */
    unsigned char has_lt, has_a, has_mark;
} line_t;

typedef unsigned __int128 mask_t; /* marker numbers go to 99 (stray text); the stage marks at most 8 */

static PyObject *mask_to_long(mask_t m) {
    if ((m >> 64) == 0)
        return PyLong_FromUnsignedLongLong((unsigned long long)m);
    PyObject *hi = PyLong_FromUnsignedLongLong((unsigned long long)(m >> 64));
    PyObject *lo = PyLong_FromUnsignedLongLong((unsigned long long)m);
    PyObject *sixty_four = PyLong_FromLong(64);
    PyObject *out = NULL, *shifted = NULL;
    if (hi && lo && sixty_four && (shifted = PyNumber_Lshift(hi, sixty_four)))
        out = PyNumber_Or(shifted, lo);
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(sixty_four);
    Py_XDECREF(shifted);
    return out;
}

static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL)
        return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

PyDoc_STRVAR(parse_doc, "parse(minimal_html, unescape) -> (texts, tags, link_chars, roots), or None\n\n"
                        "blocks.parse_blocks (`unescape`: html.unescape, called on the lines holding '&'). None where\n"
                        "the Python path goes line by line (a tag spanning lines, an entity for a newline): run it.");

/* html.unescape() in place for the only entities resiliparse writes into its output (&quot; &amp; &lt; &gt;;
 * &#39; and &#x27; too): 1 when every '&' of s[0:n) starts one of them (then *end moves back by what
 * decoding removed), 0 (nothing changed) when another '&' is there, which html.unescape then decodes. */
static int unescape_simple(Py_UCS4 *s, Py_ssize_t *end, Py_ssize_t n) {
    static const struct { const char *name; Py_UCS4 c; } ENT[] = {
        {"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&#39;", '\''}, {"&#x27;", '\''}};
    for (Py_ssize_t p = 0; p < n; p++) {
        if (s[p] != '&')
            continue;
        int found = 0;
        for (size_t e = 0; e < sizeof ENT / sizeof ENT[0] && !found; e++) {
            Py_ssize_t k = 0;
            while (ENT[e].name[k] && p + k < n && s[p + k] == (Py_UCS4)(unsigned char)ENT[e].name[k])
                k++;
            found = !ENT[e].name[k];
        }
        if (!found)
            return 0;
    }
    Py_ssize_t w = 0;
    for (Py_ssize_t p = 0; p < n; w++) {
        if (s[p] != '&') {
            s[w] = s[p++];
            continue;
        }
        for (size_t e = 0; e < sizeof ENT / sizeof ENT[0]; e++) {
            size_t k = strlen(ENT[e].name);
            Py_ssize_t i = 0;
            while (i < (Py_ssize_t)k && p + i < n && s[p + i] == (Py_UCS4)(unsigned char)ENT[e].name[i])
                i++;
            if (i == (Py_ssize_t)k) {
                s[w] = ENT[e].c;
                p += k;
                break;
            }
        }
    }
    *end -= n - w;
    return 1;
}

static PyObject *parse(PyObject *self, PyObject *args) {
    PyObject *raw_obj, *unescape;
    if (!PyArg_ParseTuple(args, "UO", &raw_obj, &unescape))
        return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(raw_obj);
    Py_UCS4 *raw = PyUnicode_AsUCS4Copy(raw_obj);
    Py_UCS4 *plain = PyMem_Malloc((len + 1) * sizeof(Py_UCS4)); /* tags stripped, line by line */
    line_t *lines = NULL;
    int *stack = NULL;
    Py_ssize_t depth = 0, cap = 0, n_lines = 0, lines_cap = 0;
    PyObject *texts = PyList_New(0), *tags = PyList_New(0), *links = PyList_New(0), *roots = PyList_New(0);
    PyObject *result = NULL;
    if (!raw || !plain || !texts || !tags || !links || !roots) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    /* Pass 1: `<[^>]+>` stripped as re.sub over the whole output does it (a match that would span lines
     * changes the line count, where the Python path goes line by line); where lines end, which hold a '<',
     * an "<a", a marker character; `marked`: a marker character is left in the stripped text. */
    int marked = 0;
    Py_ssize_t n = 0, next_gt = -1; /* next_gt: the first '>' at or after the scan, len if none */
    line_t cur = {0};
    for (Py_ssize_t p = 0;; p++) {
        if (p == len || raw[p] == '\n') {
            if (n_lines == lines_cap) {
                lines_cap = lines_cap ? 2 * lines_cap : 256;
                line_t *grown = PyMem_Realloc(lines, lines_cap * sizeof(line_t));
                if (!grown) {
                    PyErr_NoMemory();
                    goto done;
                }
                lines = grown;
            }
            cur.raw_end = p;
            cur.plain_end = n;
            lines[n_lines++] = cur;
            memset(&cur, 0, sizeof cur);
            if (p == len)
                break;
            continue;
        }
        Py_UCS4 c = raw[p];
        if (c == '<') {
            cur.has_lt = 1;
            if (p + 1 < len && raw[p + 1] == 'a')
                cur.has_a = 1;
            if (p + 1 < len && raw[p + 1] != '>') {
                if (next_gt < p + 1)
                    for (next_gt = p + 1; next_gt < len && raw[next_gt] != '>'; next_gt++)
                        ;
                if (next_gt < len) {
                    for (Py_ssize_t k = p + 1; k < next_gt; k++) {
                        if (raw[k] == '\n') {
                            result = Py_None; /* a tag spanning lines */
                            goto done;
                        }
                        cur.has_mark |= raw[k] == 0x1e || raw[k] == 0x1f;
                        cur.has_a |= raw[k] == '<' && raw[k + 1] == 'a';
                    }
                    p = next_gt;
                    continue;
                }
            }
        } else if (c == 0x1e || c == 0x1f) {
            cur.has_mark = 1;
            marked = 1;
        }
        plain[n++] = c;
    }
    /* Pass 2: line by line, the Python loop */
    mask_t inside = 0;
    Py_ssize_t r0 = 0, p0 = 0;
    for (Py_ssize_t li = 0; li < n_lines; li++) {
        Py_ssize_t r1 = lines[li].raw_end, p1 = lines[li].plain_end;
        int has_lt = lines[li].has_lt, has_mark = lines[li].has_mark;
        if (r1 > r0) {
            mask_t mask = inside;
            if (marked && has_mark) {
                for (Py_ssize_t p = r0; p < r1;) {
                    int opening;
                    Py_ssize_t stop;
                    int i = raw[p] == 0x1e || raw[p] == 0x1f ? marker_at(raw, p, r1, &opening, &stop) : -1;
                    if (i < 0) {
                        p++;
                        continue;
                    }
                    if (opening) {
                        inside |= (mask_t)1 << i;
                        mask |= (mask_t)1 << i;
                    } else
                        inside &= ~((mask_t)1 << i);
                    p = stop;
                }
            }
            int tag = depth ? stack[depth - 1] : T_NONE;
            Py_ssize_t link = 0;
            if (has_lt) {
                if (lines[li].has_a)
                    link = link_chars(raw, r0, r1);
                Py_ssize_t lead = r0; /* line.lstrip() */
                while (lead < r1 && is_space(raw[lead]))
                    lead++;
                for (Py_ssize_t p = r0; p < r1;) {
                    int closing;
                    Py_ssize_t stop;
                    int name = raw[p] == '<' ? block_event(raw, p, r1, &closing, &stop) : 0;
                    if (!name) {
                        p++;
                        continue;
                    }
                    if (closing) {
                        for (Py_ssize_t k = depth - 1; k >= 0; k--)
                            if (stack[k] == name) {
                                depth = k;
                                break;
                            }
                    } else {
                        /* line.lstrip().startswith("<" + name) */
                        const char *t = TAG_NAMES[name];
                        Py_ssize_t m = (Py_ssize_t)strlen(t);
                        int starts = lead + m < r1 && raw[lead] == '<';
                        for (Py_ssize_t k = 0; starts && k < m; k++)
                            starts = raw[lead + 1 + k] == (Py_UCS4)t[k];
                        if (tag == T_NONE || starts)
                            tag = name;
                        if (depth == cap) {
                            cap = cap ? 2 * cap : 16;
                            int *grown = PyMem_Realloc(stack, cap * sizeof(int));
                            if (!grown) {
                                PyErr_NoMemory();
                                goto done;
                            }
                            stack = grown;
                        }
                        stack[depth++] = name;
                    }
                    p = stop;
                }
            }
            /* the line's text: markers removed (_MARK.sub), entities decoded (html.unescape), stripped */
            Py_ssize_t a = p0, b = p0, amp = 0;
            for (Py_ssize_t p = p0; p < p1;) {
                int opening;
                Py_ssize_t stop;
                if (marked && (plain[p] == 0x1e || plain[p] == 0x1f) && marker_at(plain, p, p1, &opening, &stop) >= 0) {
                    p = stop;
                    continue;
                }
                amp |= plain[p] == '&';
                plain[b++] = plain[p++];
            }
            PyObject *text = NULL;
            if (amp && unescape_simple(plain + a, &b, b - a))
                amp = 0; /* decoded here: the line is now plain text */
            if (amp) {
                PyObject *escaped = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, plain + a, b - a);
                PyObject *decoded = escaped ? PyObject_CallOneArg(unescape, escaped) : NULL;
                Py_XDECREF(escaped);
                if (!decoded)
                    goto done;
                if (!PyUnicode_Check(decoded)) {
                    Py_DECREF(decoded);
                    PyErr_SetString(PyExc_TypeError, "parse: unescape must return str");
                    goto done;
                }
                if (PyUnicode_FindChar(decoded, '\n', 0, PyUnicode_GET_LENGTH(decoded), 1) >= 0) {
                    Py_DECREF(decoded);
                    result = Py_None; /* an entity for a newline */
                    goto done;
                }
                ustr u;
                ustr_of(decoded, &u);
                Py_ssize_t i = 0, j = u.len;
                while (i < j && is_space(AT(&u, i)))
                    i++;
                while (j > i && is_space(AT(&u, j - 1)))
                    j--;
                text = (i == 0 && j == u.len) ? decoded : PyUnicode_Substring(decoded, i, j);
                if (text != decoded)
                    Py_DECREF(decoded);
                if (!text)
                    goto done;
            } else {
                while (a < b && is_space(plain[a]))
                    a++;
                while (b > a && is_space(plain[b - 1]))
                    b--;
                if (b > a && !(text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, plain + a, b - a)))
                    goto done;
            }
            Py_ssize_t size = text ? PyUnicode_GET_LENGTH(text) : 0;
            if (size) {
                if (append_new(texts, text) < 0 || PyList_Append(tags, TAG_STR[tag]) < 0 ||
                    append_new(links, PyLong_FromSsize_t(link < size ? link : size)) < 0 ||
                    append_new(roots, mask_to_long(mask)) < 0)
                    goto done;
            } else
                Py_XDECREF(text);
        }
        r0 = r1 + 1;
        p0 = p1;
    }
    result = Py_BuildValue("(OOOO)", texts, tags, links, roots);
    goto done_built;
done:
    Py_XINCREF(result); /* Py_None, or NULL with an exception set */
done_built:
    PyMem_Free(raw);
    PyMem_Free(plain);
    PyMem_Free(lines);
    PyMem_Free(stack);
    Py_XDECREF(texts);
    Py_XDECREF(tags);
    Py_XDECREF(links);
    Py_XDECREF(roots);
    return result;
}

/* ---------------------------------------------------------------- features: block_model.block_features */

enum { PUNCT = 1, DIGIT, SEP, SPACE, WIDE };
static unsigned char CLASS[0x10000], ENDS[0x10000];

static void build_tables(void) {
    static const Py_UCS4 punct[] = {'.', ',', ';', ':', '!', '?', 0x3002, 0x3001, 0xFF0C, 0xFF1B, 0xFF1A, 0xFF01, 0xFF1F};
    static const Py_UCS4 seps[] = {'|', 0xBB, 0xB7, 0x2022, 0x203A, '/'};
    static const Py_UCS4 wide[][2] = {{0x1100, 0x11FF}, {0x2E80, 0xA4CF}, {0xAC00, 0xD7AF}, {0xF900, 0xFAFF}, {0xFF00, 0xFFEF}};
    static const Py_UCS4 ends[] = {'.', '!', '?', 0x3002, 0xFF01, 0xFF1F, '"', 0x201D, 0xBB, ')'};
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        memset(CLASS + wide[i][0], WIDE, wide[i][1] - wide[i][0] + 1);
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++)
        CLASS[punct[i]] = PUNCT;
    for (Py_UCS4 c = '0'; c <= '9'; c++)
        CLASS[c] = DIGIT;
    for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++)
        CLASS[seps[i]] = SEP;
    CLASS[' '] = SPACE;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        ENDS[ends[i]] = 1;
    ENDS[':'] = 2;
}

static inline Py_UCS4 clamp16(Py_UCS4 c) { return c > 0xFFFF ? 0xFFFF : c; }

/* block_model.BOILERPLATE_WORDS and BOILERPLATE_PHRASES (checked equal by the tests) */
static const char *BP_WORDS[] = {
    "subscribe", "newsletter", "cookie", "cookies", "copyright", "advertisement", "loading", "login", "comment",
    "comments", "tags", "tag", "categories", "category", "photo", "image", "credit", "getty", "reuters", "teilen",
    "weiterlesen", "datenschutz", "impressum", "kommentar", "kommentare", "partager", "commentaire", "commentaires",
    "suivez", "compartir", "comentarios", NULL};
static const char *BP_PHRASES[] = {
    "share this", "share on", "follow us", "sign up", "sign in", "log in", "all rights reserved", "skip to",
    "please wait", "read more", "related articles", "related posts", "related stories", "click here",
    "privacy policy", "terms of use", "terms of service", "back to top", "print this", "email this", "posted by",
    "posted in", "posted on", "mehr zum thema", "lesen sie auch", NULL};
#define COPYRIGHT_SIGN 0xA9 /* the phrase "©" */
/* bit k: word (phrase) k starts with this character */
static unsigned long long WORD_FIRST[128], PHRASE_FIRST[128];

static void build_term_tables(void) {
    for (int k = 0; BP_WORDS[k]; k++)
        WORD_FIRST[(unsigned char)BP_WORDS[k][0]] |= 1ULL << k;
    for (int k = 0; BP_PHRASES[k]; k++)
        PHRASE_FIRST[(unsigned char)BP_PHRASES[k][0]] |= 1ULL << k;
}
#define MAX_WORD 16

/* block_model.is_boilerplate: a boilerplate word among the lower-cased text's \w+ tokens, or a phrase in it */
static int is_boilerplate(const ustr *u, Py_UCS4 *lower) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < u->len; i++) {
        Py_UCS4 c = AT(u, i);
        if (c == 0x130) { /* str.lower(): U+0130 -> "i\u0307" */
            lower[n++] = 'i';
            lower[n++] = 0x307;
        } else
            lower[n++] = c < 128 ? (Py_UCS4)((c >= 'A' && c <= 'Z') ? c + 32 : c) : Py_UNICODE_TOLOWER(c);
    }
    char word[MAX_WORD + 1];
    for (Py_ssize_t i = 0; i < n;) {
        if (!is_word(lower[i])) {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        int ascii = 1;
        while (j < n && is_word(lower[j])) {
            ascii &= lower[j] < 128;
            j++;
        }
        if (ascii && j - i <= MAX_WORD && WORD_FIRST[lower[i]]) {
            for (Py_ssize_t k = i; k < j; k++)
                word[k - i] = (char)lower[k];
            word[j - i] = 0;
            for (unsigned long long m = WORD_FIRST[lower[i]]; m; m &= m - 1)
                if (strcmp(word, BP_WORDS[__builtin_ctzll(m)]) == 0)
                    return 1;
        }
        i = j;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = lower[i];
        if (c == COPYRIGHT_SIGN)
            return 1;
        if (c >= 128)
            continue;
        for (unsigned long long m = PHRASE_FIRST[c]; m; m &= m - 1) {
            const char *s = BP_PHRASES[__builtin_ctzll(m)];
            Py_ssize_t k = 1;
            while (s[k] && i + k < n && lower[i + k] == (Py_UCS4)s[k])
                k++;
            if (!s[k])
                return 1;
        }
    }
    return 0;
}

static inline int is_decimal(const ustr *u, Py_ssize_t p, Py_ssize_t end) { return p < end && is_digit(AT(u, p)); }

static inline int is_sep(const ustr *u, Py_ssize_t p, Py_ssize_t end) {
    if (p >= end)
        return 0;
    Py_UCS4 c = AT(u, p);
    return c == '.' || c == '/' || c == '-';
}

/* block_model._DATE.search(text, 0, end) is not None:
 * \b\d{1,2}[./-]\s?\d{1,2}[./-]\s?\d{2,4}\b | \b(?:19|20)\d\d\b   (every way the pattern can match, tried) */
static int has_date(const ustr *u, Py_ssize_t end) {
    for (Py_ssize_t p = 0; p < end; p++) {
        if (!is_decimal(u, p, end) || !word_boundary(u, p, end))
            continue;
        if (p + 4 <= end) {
            Py_UCS4 a = AT(u, p), b = AT(u, p + 1);
            if (((a == '1' && b == '9') || (a == '2' && b == '0')) && is_decimal(u, p + 2, end) &&
                is_decimal(u, p + 3, end) && word_boundary(u, p + 4, end))
                return 1;
        }
        for (int d1 = 1; d1 <= 2; d1++) {
            if (!is_decimal(u, p + d1 - 1, end) || !is_sep(u, p + d1, end))
                continue;
            Py_ssize_t q1 = p + d1 + 1;
            for (int s1 = 0; s1 <= 1; s1++) {
                if (s1 && !(q1 < end && is_space(AT(u, q1))))
                    continue;
                Py_ssize_t q2 = q1 + s1;
                for (int d2 = 1; d2 <= 2; d2++) {
                    if (!is_decimal(u, q2, end) || !is_decimal(u, q2 + d2 - 1, end) || !is_sep(u, q2 + d2, end))
                        continue;
                    Py_ssize_t q3 = q2 + d2 + 1;
                    for (int s2 = 0; s2 <= 1; s2++) {
                        if (s2 && !(q3 < end && is_space(AT(u, q3))))
                            continue;
                        Py_ssize_t q4 = q3 + s2;
                        for (int d3 = 2; d3 <= 4; d3++) {
                            int ok = 1;
                            for (int k = 0; k < d3 && ok; k++)
                                ok = is_decimal(u, q4 + k, end);
                            if (ok && word_boundary(u, q4 + d3, end))
                                return 1;
                        }
                    }
                }
            }
        }
    }
    return 0;
}

#define NFEAT 41
#define PROSE_WIDTH 70

static Py_buffer LOG_TABLE; /* np.log1p(np.arange(N)): numpy's log1p values, for the same bits as the Python path */
static int have_log_table = 0;

PyDoc_STRVAR(set_log1p_table_doc, "set_log1p_table(table): float64 buffer with table[i] = numpy's log1p(i).");

static PyObject *set_log1p_table(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (view.itemsize != 8 || (view.format && strcmp(view.format, "d") != 0)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "set_log1p_table: a float64 buffer is needed");
        return NULL;
    }
    if (have_log_table)
        PyBuffer_Release(&LOG_TABLE);
    LOG_TABLE = view;
    have_log_table = 1;
    Py_RETURN_NONE;
}

/* log1p(v) as numpy gives it, or -1 (caller falls back) when v is beyond the table */
static inline int log1p_np(double v, double *out) {
    Py_ssize_t n = LOG_TABLE.len / 8;
    if (v < 0 || v >= (double)n)
        return -1;
    *out = ((const double *)LOG_TABLE.buf)[(Py_ssize_t)v];
    return 0;
}

static int tag_code(PyObject *tag) {
    for (int k = 0; k < N_TAGS; k++)
        if (tag == TAG_STR[k])
            return TAG_CODE[k];
    if (!PyUnicode_Check(tag))
        return -1;
    for (int k = 0; k < N_TAGS; k++)
        if (PyUnicode_CompareWithASCIIString(tag, TAG_NAMES[k]) == 0)
            return TAG_CODE[k];
    return -1;
}

typedef struct {
    Py_ssize_t len, width, punct, digit, sep, space;
    int last, tag, long_, in_root;
    double link;
} block_t;

PyDoc_STRVAR(features_doc,
             "features(texts, tags, link_chars, in_root, has_root, title, out) -> bool\n\n"
             "block_model.block_features into `out` (a writable C-contiguous float64 buffer of len(texts) x 41).\n"
             "False (out left incomplete) when a block is empty or wider than the log1p table: use the Python path.");

static PyObject *features(PyObject *self, PyObject *args) {
    PyObject *texts, *tags, *links, *in_root, *title, *out_obj;
    int has_root;
    if (!PyArg_ParseTuple(args, "O!O!O!O!pOO", &PyList_Type, &texts, &PyList_Type, &tags, &PyList_Type, &links,
                          &PyList_Type, &in_root, &has_root, &title, &out_obj))
        return NULL;
    if (!have_log_table) {
        PyErr_SetString(PyExc_RuntimeError, "features: set_log1p_table() was not called");
        return NULL;
    }
    if (title != Py_None && !PyUnicode_Check(title)) {
        PyErr_SetString(PyExc_TypeError, "features: title must be str or None");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(texts);
    if (PyList_GET_SIZE(tags) != n || PyList_GET_SIZE(links) != n ||
        (PyList_GET_SIZE(in_root) != n && PyList_GET_SIZE(in_root) != 0)) {
        PyErr_SetString(PyExc_ValueError, "features: texts, tags, link_chars and in_root differ in length");
        return NULL;
    }
    Py_buffer out;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (out.len != (Py_ssize_t)(n * NFEAT * sizeof(double))) {
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "features: out must hold len(texts) x 41 float64");
        return NULL;
    }
    double *x = out.buf;
    PyObject *result = NULL, *seen = NULL;
    block_t *b = PyMem_Calloc(n ? n : 1, sizeof(block_t));
    Py_UCS4 *lower = NULL;
    Py_ssize_t lower_cap = 0;
    if (!b) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(seen = PySet_New(NULL)))
        goto done;
    Py_ssize_t n_long = 0, first = n, last_long = -1;
    double total_width = 0, root_width = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(t)) {
            PyErr_SetString(PyExc_TypeError, "features: texts must be str");
            goto done;
        }
        ustr u;
        ustr_of(t, &u);
        block_t *k = &b[i];
        if (u.len == 0) { /* the Python path's last-character lookup for an empty block: not worth copying */
            result = Py_False;
            goto done;
        }
        k->len = u.len;
        Py_ssize_t counts[6] = {0};
        for (Py_ssize_t p = 0; p < u.len; p++)
            counts[CLASS[clamp16(AT(&u, p))]]++;
        k->punct = counts[PUNCT];
        k->digit = counts[DIGIT];
        k->sep = counts[SEP];
        k->space = counts[SPACE];
        k->width = u.len + 2 * counts[WIDE];
        k->last = ENDS[clamp16(AT(&u, u.len - 1))];
        k->long_ = k->width >= PROSE_WIDTH;
        if ((k->tag = tag_code(PyList_GET_ITEM(tags, i))) < 0) {
            PyErr_Format(PyExc_KeyError, "features: block %zd has an unknown tag", i);
            goto done;
        }
        long long lc = PyLong_AsLongLong(PyList_GET_ITEM(links, i));
        if (lc == -1 && PyErr_Occurred())
            goto done;
        k->link = (double)lc / (double)u.len;
        if (PyList_GET_SIZE(in_root)) {
            int r = PyObject_IsTrue(PyList_GET_ITEM(in_root, i));
            if (r < 0)
                goto done;
            k->in_root = r;
        }
        if (k->long_) {
            n_long++;
            if (first == n)
                first = i;
            last_long = i;
        }
        total_width += (double)k->width;
        if (k->in_root)
            root_width += (double)k->width;
        double *row = x + i * NFEAT;
        /* the per-block checks that read the text again */
        int bp = 0;
        if (k->width < 2 * PROSE_WIDTH) {
            if (2 * u.len > lower_cap) {
                lower_cap = 2 * u.len + 64;
                Py_UCS4 *grown = PyMem_Realloc(lower, lower_cap * sizeof(Py_UCS4));
                if (!grown) {
                    PyErr_NoMemory();
                    goto done;
                }
                lower = grown;
            }
            bp = is_boilerplate(&u, lower);
        }
        row[14] = bp;
        int found = PySet_Contains(seen, t);
        if (found < 0 || (!found && PySet_Add(seen, t) < 0))
            goto done;
        row[15] = found;
        row[26] = k->digit >= 4 && has_date(&u, u.len < 300 ? u.len : 300);
        int in_title = 0;
        if (title != Py_None && u.len >= 15) {
            in_title = PyUnicode_Contains(title, t);
            if (in_title < 0)
                goto done;
        }
        row[40] = in_title;
    }
    double total = total_width > 1.0 ? total_width : 1.0;
    double log_total = log1p(total) / 10; /* math.log1p in the Python path: libm's */
    double root_share = root_width / total;
    /* runs of short blocks between long ones: their lengths, by run (run id = long blocks so far) */
    Py_ssize_t *run_len = PyMem_Calloc(n_long + 1, sizeof(Py_ssize_t));
    if (!run_len) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0, id = 0; i < n; i++) {
        id += b[i].long_;
        if (!b[i].long_)
            run_len[id]++;
    }
    Py_ssize_t before = -n, run_id = 0;
    Py_ssize_t *after = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    if (!after) {
        PyMem_Free(run_len);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = n - 1, next = 2 * n; i >= 0; i--) {
        if (b[i].long_)
            next = i;
        after[i] = next;
    }
    int fits = 1;
    for (Py_ssize_t i = 0; i < n && fits; i++) {
        block_t *k = &b[i];
        double *row = x + i * NFEAT;
        double size = (double)k->len, width = (double)k->width;
        if (k->long_)
            before = i;
        run_id += k->long_;
        Py_ssize_t gap = i - before < after[i] - i ? i - before : after[i] - i;
        if (gap > n)
            gap = n;
        double run = k->long_ ? 0 : (double)run_len[run_id];
        double lw, lg, lr, ls;
        if (log1p_np(width, &lw) < 0 || log1p_np((double)gap, &lg) < 0 || log1p_np(run, &lr) < 0 ||
            log1p_np((double)k->space + 1, &ls) < 0) {
            fits = 0;
            break;
        }
        int link_heavy = k->link > 0.5;
        double punct = (double)k->punct / size * 10;
        row[0] = 1;
        row[1] = lw / 5;
        row[2] = k->long_;
        row[3] = k->link;
        row[4] = link_heavy;
        for (int c = 0; c < 6; c++)
            row[5 + c] = k->tag == c;
        row[11] = punct < 2.0 ? punct : 2.0;
        row[12] = k->last == 1;
        row[13] = (double)k->digit / size;
        row[16] = i < first;
        row[17] = i > last_long;
        row[18] = (double)i / (double)(n - 1 > 1 ? n - 1 : 1);
        row[19] = i > 0 ? b[i - 1].long_ : 0;
        row[20] = i + 1 < n ? b[i + 1].long_ : 0;
        row[21] = i > 0 ? b[i - 1].link : 1;
        row[22] = i + 1 < n ? b[i + 1].link : 1;
        row[23] = i == first - 1;
        row[24] = width / total;
        row[25] = (double)(k->sep < 3 ? k->sep : 3) / 3;
        row[27] = log_total;
        row[28] = (double)n_long / (double)n;
        row[29] = lg / 3;
        row[30] = lr / 3;
        row[31] = (double)(k->tag == 3) * (double)link_heavy;
        row[32] = k->last == 2;
        row[33] = ls / 5;
        row[34] = has_root;
        row[35] = k->in_root;
        row[36] = root_share;
        row[37] = k->len < 15;
        row[38] = (double)k->in_root * (double)k->long_;
        row[39] = (double)k->in_root * (double)(i < first);
    }
    PyMem_Free(run_len);
    PyMem_Free(after);
    result = fits ? Py_True : Py_False;
done:
    PyMem_Free(b);
    PyMem_Free(lower);
    Py_XDECREF(seen);
    PyBuffer_Release(&out);
    Py_XINCREF(result);
    return result;
}

/* ---------------------------------------------------------------- blocks.choose_root */

PyDoc_STRVAR(choose_root_doc, "choose_root(texts, roots, candidates) -> in_root: blocks.choose_root's list (candidates <= 64).");

static PyObject *choose_root(PyObject *self, PyObject *args) {
    PyObject *texts, *roots;
    int candidates;
    if (!PyArg_ParseTuple(args, "O!O!i", &PyList_Type, &texts, &PyList_Type, &roots, &candidates))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(roots);
    if (PyList_GET_SIZE(texts) != n || candidates < 0 || candidates > 64) {
        PyErr_SetString(PyExc_ValueError, "choose_root: texts and roots differ in length, or candidates not in 0..64");
        return NULL;
    }
    unsigned long long *masks = PyMem_Malloc((n ? n : 1) * sizeof(unsigned long long));
    Py_ssize_t size[64] = {0};
    int any = 0;
    if (!masks)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = PyList_GET_ITEM(roots, i);
        int nonzero = PyObject_IsTrue(r);
        unsigned long long m = PyLong_Check(r) ? PyLong_AsUnsignedLongLongMask(r) : 0; /* low 64 bits */
        if (nonzero < 0 || (m == (unsigned long long)-1 && PyErr_Occurred()) || !PyLong_Check(r)) {
            PyMem_Free(masks);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "choose_root: roots must be ints");
            return NULL;
        }
        any |= nonzero;
        masks[i] = m;
        if (candidates) {
            unsigned long long mine = candidates == 64 ? m : m & ((1ULL << candidates) - 1);
            Py_ssize_t len = PyUnicode_Check(PyList_GET_ITEM(texts, i)) ? PyUnicode_GET_LENGTH(PyList_GET_ITEM(texts, i)) : 0;
            for (; mine; mine &= mine - 1)
                size[__builtin_ctzll(mine)] += len;
        }
    }
    unsigned long long bit = 0;
    if (candidates && any) {
        int best = 0;
        for (int k = 1; k < candidates; k++)
            if (size[k] > size[best])
                best = k;
        bit = 1ULL << best;
    }
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *v = (masks[i] & bit) ? Py_True : Py_False;
        Py_INCREF(v);
        PyList_SET_ITEM(out, i, v);
    }
    PyMem_Free(masks);
    return out;
}

/* ---------------------------------------------------------------- block_model.BlockModel.probability */

PyDoc_STRVAR(mlp_doc, "mlp(x, mean, scale, layers, out): keep probabilities of the rows of x (n x d float64) into out (n):\n"
                      "standardised, through each (w, b) of `layers` (tanh between), then the logistic function.");

static int get_f64(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->len != count * (Py_ssize_t)sizeof(double)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "mlp: %s must hold %zd float64", what, count);
        return -1;
    }
    return 0;
}

#define MAX_LAYERS 4
#define MAX_UNITS 64

static PyObject *mlp(PyObject *self, PyObject *args) {
    PyObject *x_obj, *mean_obj, *scale_obj, *layers, *out_obj;
    if (!PyArg_ParseTuple(args, "OOOO!O", &x_obj, &mean_obj, &scale_obj, &PyList_Type, &layers, &out_obj))
        return NULL;
    Py_ssize_t n_layers = PyList_GET_SIZE(layers), d = NFEAT;
    if (n_layers < 1 || n_layers > MAX_LAYERS) {
        PyErr_SetString(PyExc_ValueError, "mlp: 1 to 4 layers");
        return NULL;
    }
    Py_buffer views[2 * MAX_LAYERS + 4];
    int held = 0;
    PyObject *result = NULL;
    Py_buffer *xv = &views[held], *outv;
    if (PyObject_GetBuffer(x_obj, xv, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    held++;
    Py_ssize_t n = xv->len / (Py_ssize_t)(d * sizeof(double));
    if (xv->len != n * d * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "mlp: x must be n x 41 float64");
        goto done;
    }
    if (get_f64(mean_obj, &views[held], d, 0, "mean") < 0)
        goto done;
    const double *mean = views[held++].buf;
    if (get_f64(scale_obj, &views[held], d, 0, "scale") < 0)
        goto done;
    const double *scale = views[held++].buf;
    outv = &views[held];
    if (get_f64(out_obj, outv, n, 1, "out") < 0)
        goto done;
    held++;
    const double *w[MAX_LAYERS], *b[MAX_LAYERS];
    Py_ssize_t width[MAX_LAYERS + 1];
    width[0] = d;
    for (Py_ssize_t k = 0; k < n_layers; k++) {
        PyObject *pair = PyList_GET_ITEM(layers, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "mlp: layers are (w, b) tuples");
            goto done;
        }
        Py_buffer *bv = &views[held];
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(pair, 1), bv, PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        held++;
        width[k + 1] = bv->len / (Py_ssize_t)sizeof(double);
        if (width[k + 1] < 1 || width[k + 1] > MAX_UNITS || (k + 1 == n_layers && width[k + 1] != 1)) {
            PyErr_SetString(PyExc_ValueError, "mlp: 1 to 64 units a layer, one output");
            goto done;
        }
        b[k] = bv->buf;
        if (get_f64(PyTuple_GET_ITEM(pair, 0), &views[held], width[k] * width[k + 1], 0, "w") < 0)
            goto done;
        w[k] = views[held++].buf;
    }
    const double *x = xv->buf;
    double *out = outv->buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        double h[2][MAX_UNITS > NFEAT ? MAX_UNITS : NFEAT];
        for (Py_ssize_t j = 0; j < d; j++)
            h[0][j] = (x[i * d + j] - mean[j]) / scale[j];
        int cur = 0;
        for (Py_ssize_t k = 0; k < n_layers; k++) {
            /* all units of the layer at once, inputs in the outer loop: each unit's sum is still taken in input
             * order (the same rounding as one unit at a time), but the units' additions no longer wait on each
             * other (one unit at a time, every addition waited for the one before: 4x slower) */
            const Py_ssize_t units = width[k + 1];
            double acc[MAX_UNITS] = {0};
            for (Py_ssize_t j = 0; j < width[k]; j++) {
                const double hj = h[cur][j], *row = w[k] + j * units;
                for (Py_ssize_t u = 0; u < units; u++)
                    acc[u] += hj * row[u];
            }
            for (Py_ssize_t u = 0; u < units; u++) {
                acc[u] += b[k][u];
                h[1 - cur][u] = k + 1 < n_layers ? tanh(acc[u]) : acc[u];
            }
            cur = 1 - cur;
        }
        out[i] = 1.0 / (1.0 + exp(-h[cur][0]));
    }
    result = Py_None;
    Py_INCREF(result);
done:
    for (int k = 0; k < held; k++)
        PyBuffer_Release(&views[k]);
    return result;
}

/* ---------------------------------------------------------------- one look at the page's text before parsing */

/* Bits of scan()'s second result: the article elements blocks._ROOTS asks lexbor for, in its order. A bit is set
   when the page's text holds what that element needs, so a kind whose bit is clear cannot be in the DOM and its
   walk (0.03-0.07 ms a kind) is skipped. lexbor compares attribute values exactly and case-sensitively, so
   "articleBody" and "main" are looked for as they are, after '=', spaces and a quote ("ARTICLEBODY", role="Main" do
   not match; a value spelt with character references, articl&#101;Body, is not seen); tag and attribute names in
   any case. */
enum { HINT_ARTICLE_BODY = 1, HINT_ARTICLE = 2, HINT_MAIN = 4, HINT_ROLE_MAIN = 8 };

static inline int ascii_lower(Py_UCS4 c) { return c >= 'A' && c <= 'Z' ? (int)(c + 32) : (int)c; }
static inline int html_space(Py_UCS4 c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
/* What ends a tag name in HTML's tokenizer (CR is a newline by then); the end of the text counts too. */
static inline int ends_tag_name(Py_UCS4 c) { return html_space(c) || c == '/' || c == '>'; }

/* What the candidate at d[i] says: a '<' (of <article or <main), the 'm' of "main" (after role=), the 'B' of
   "articleBody" (after '='). Written once for the three string widths. */
#define DEFINE_HIT(NAME, T)                                                                                         \
    static int NAME(const T *d, Py_ssize_t n, Py_ssize_t i) {                                                       \
        static const char article[] = "article", main_[] = "main";                                                  \
        Py_ssize_t j;                                                                                               \
        if (d[i] == '<') { /* <article / <main, any case, then the name's end */                                    \
            const char *name = i + 1 < n && ascii_lower(d[i + 1]) == 'm' ? main_ : article;                         \
            Py_ssize_t k = 0, len = name == main_ ? 4 : 7;                                                          \
            while (k < len && i + 1 + k < n && ascii_lower(d[i + 1 + k]) == name[k])                                \
                k++;                                                                                                \
            if (k < len || (i + 1 + k < n && !ends_tag_name(d[i + 1 + k])))                                         \
                return 0;                                                                                           \
            return name == main_ ? HINT_MAIN : HINT_ARTICLE;                                                        \
        }                                                                                                           \
        if (d[i] == 'B') { /* '=', spaces, a quote, articleBody */                                                  \
            if (!(i >= 8 && i + 4 <= n && d[i + 1] == 'o' && d[i + 2] == 'd' && d[i + 3] == 'y'))                   \
                return 0;                                                                                           \
            for (Py_ssize_t k = 0; k < 7; k++)                                                                      \
                if (d[i - 7 + k] != (T)article[k])                                                                  \
                    return 0;                                                                                       \
            j = i - 8;                                                                                              \
            if (d[j] == '"' || d[j] == '\'')                                                                        \
                j--;                                                                                                \
            while (j >= 0 && html_space(d[j]))                                                                      \
                j--;                                                                                                \
            return j >= 0 && d[j] == '=' ? HINT_ARTICLE_BODY : 0;                                                   \
        }                                                                                                           \
        /* 'm': role, spaces, '=', spaces, a quote, main */                                                         \
        if (!(i + 4 <= n && d[i] == 'm' && d[i + 1] == 'a' && d[i + 2] == 'i' && d[i + 3] == 'n'))                  \
            return 0;                                                                                               \
        j = i - 1;                                                                                                  \
        if (j >= 0 && (d[j] == '"' || d[j] == '\''))                                                                \
            j--;                                                                                                    \
        while (j >= 0 && html_space(d[j]))                                                                          \
            j--;                                                                                                    \
        if (!(j >= 0 && d[j] == '='))                                                                               \
            return 0;                                                                                               \
        j--;                                                                                                        \
        while (j >= 0 && html_space(d[j]))                                                                          \
            j--;                                                                                                    \
        return j >= 3 && ascii_lower(d[j - 3]) == 'r' && ascii_lower(d[j - 2]) == 'o' && ascii_lower(d[j - 1]) == 'l' && \
                       ascii_lower(d[j]) == 'e'                                                                     \
                   ? HINT_ROLE_MAIN                                                                                 \
                   : 0;                                                                                             \
    }

DEFINE_HIT(hit_ucs1, Py_UCS1)
DEFINE_HIT(hit_ucs2, Py_UCS2)
DEFINE_HIT(hit_ucs4, Py_UCS4)

/* Every candidate is also a candidate of this test, which reads one character; hit() then reads around it. */
#define CANDIDATE(c) ((c) == '<' || (c) == 'B' || (c) == 'm')

static inline int ascii_letter(Py_UCS4 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

#define DEFINE_SCAN_TAIL(NAME, HIT, T)                                                                              \
    static void NAME(const T *d, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *tags, int *hints) {                        \
        for (; i < n; i++)                                                                                          \
            if (CANDIDATE(d[i])) {                                                                                  \
                *tags += d[i] == '<' && i + 1 < n && ascii_letter(d[i + 1]);                                        \
                *hints |= HIT(d, n, i);                                                                             \
            }                                                                                                       \
    }
DEFINE_SCAN_TAIL(scan_tail_ucs1, hit_ucs1, Py_UCS1)
DEFINE_SCAN_TAIL(scan_tail_ucs2, hit_ucs2, Py_UCS2)
DEFINE_SCAN_TAIL(scan_tail_ucs4, hit_ucs4, Py_UCS4)

/* With SSE2 (every x86-64 CPU), 16 bytes at a time: start tags ('<' and an ASCII letter) counted, and only places
   that start "<a"/"<m" (any case), "mai" or "Bod" go to hit(). A loop testing each character took 0.26 ms a readability page
   (~200K characters), as long as the three lexbor walks it saves. */
static int have_avx2 = 0; /* set at import */

#if defined(__SSE2__)
#include <emmintrin.h>
#define EQ8(v, c) _mm_cmpeq_epi8((v), _mm_set1_epi8(c))
#define LOWER8(v) _mm_or_si128((v), _mm_set1_epi8(0x20)) /* ASCII letters to lower case (others to anything) */
/* lanes holding an ASCII letter: (c | 0x20) - 'a' in 0..25, compared as signed lanes (exact: nothing else wraps there) */
#define LETTER8(lower) _mm_and_si128(_mm_cmpgt_epi8(_mm_sub_epi8((lower), _mm_set1_epi8('a')), _mm_set1_epi8(-1)), \
                                     _mm_cmplt_epi8(_mm_sub_epi8((lower), _mm_set1_epi8('a')), _mm_set1_epi8(26)))

/* 16 characters as bytes, v0 from position i, v1 from i + 1, v2 from i + 2: adds the start tags among them to the
   per-lane counter and gives the candidates' bit mask. Wider characters arrive narrowed to 0 or 255, which match
   nothing looked for (all ASCII). */
static inline unsigned scan16(__m128i v0, __m128i v1, __m128i v2, __m128i *count) {
    __m128i lt = EQ8(v0, '<'), l1 = LOWER8(v1);
    *count = _mm_sub_epi8(*count, _mm_and_si128(lt, LETTER8(l1)));
    /* candidates: '<' before a/A/m/M, "mai", "Bod" (hit() reads the rest) */
    __m128i tag = _mm_and_si128(lt, _mm_or_si128(EQ8(l1, 'a'), EQ8(l1, 'm')));
    __m128i word = _mm_and_si128(_mm_or_si128(_mm_and_si128(EQ8(v0, 'm'), EQ8(v1, 'a')), _mm_and_si128(EQ8(v0, 'B'), EQ8(v1, 'o'))),
                                 _mm_or_si128(EQ8(v2, 'i'), EQ8(v2, 'd')));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(tag, word));
}

/* the counter's lanes added up (each at most 255: flushed every 255 rounds) */
static inline Py_ssize_t flush(__m128i *count) {
    __m128i sums = _mm_sad_epu8(*count, _mm_setzero_si128());
    *count = _mm_setzero_si128();
    return _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
}

/* The vector loop, written once for each string width and vector size: KERNEL over WIDTH characters at a time
   (LOAD reads WIDTH characters from a position as bytes), start tags added up every 255 rounds (a byte lane holds
   255), candidates to HIT, the rest of the text to TAIL. */
#define DEFINE_SCAN_LOOP(NAME, ATTR, T, VEC, WIDTH, LOAD, KERNEL, FLUSH, ZERO, HIT, TAIL)                          \
    static ATTR void NAME(const T *d, Py_ssize_t n, Py_ssize_t *tags, int *hints) {                                 \
        Py_ssize_t i = 0, rounds = 0;                                                                               \
        VEC count = ZERO();                                                                                         \
        *tags = 0;                                                                                                  \
        *hints = 0;                                                                                                 \
        for (; i + WIDTH + 2 <= n; i += WIDTH) {                                                                    \
            unsigned m = KERNEL(LOAD(d + i), LOAD(d + i + 1), LOAD(d + i + 2), &count);                             \
            if (++rounds == 255) {                                                                                  \
                *tags += FLUSH(&count);                                                                             \
                rounds = 0;                                                                                         \
            }                                                                                                       \
            for (; m; m &= m - 1)                                                                                   \
                *hints |= HIT(d, n, i + __builtin_ctz(m));                                                          \
        }                                                                                                           \
        *tags += FLUSH(&count);                                                                                     \
        TAIL(d, n, i, tags, hints);                                                                                 \
    }

#define LOAD_UCS1_16(p) _mm_loadu_si128((const __m128i *)(p))
/* 16 two-byte characters from d as bytes (saturated: 0x100-0x7FFF to 255, 0x8000 up to 0) */
static inline __m128i narrow16(const Py_UCS2 *d) {
    return _mm_packus_epi16(_mm_loadu_si128((const __m128i *)d), _mm_loadu_si128((const __m128i *)(d + 8)));
}
#define NO_ATTR
DEFINE_SCAN_LOOP(scan_ucs1, NO_ATTR, Py_UCS1, __m128i, 16, LOAD_UCS1_16, scan16, flush, _mm_setzero_si128, hit_ucs1, scan_tail_ucs1)
DEFINE_SCAN_LOOP(scan_ucs2, NO_ATTR, Py_UCS2, __m128i, 16, narrow16, scan16, flush, _mm_setzero_si128, hit_ucs2, scan_tail_ucs2)

/* The same 32 characters at a time, on CPUs with AVX2 (have_avx2, set at import). */
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#define EQ32(v, c) _mm256_cmpeq_epi8((v), _mm256_set1_epi8(c))

static inline AVX2 unsigned scan32(__m256i v0, __m256i v1, __m256i v2, __m256i *count) {
    __m256i lt = EQ32(v0, '<'), l1 = _mm256_or_si256(v1, _mm256_set1_epi8(0x20));
    __m256i off = _mm256_sub_epi8(l1, _mm256_set1_epi8('a'));
    __m256i letter = _mm256_and_si256(_mm256_cmpgt_epi8(off, _mm256_set1_epi8(-1)), _mm256_cmpgt_epi8(_mm256_set1_epi8(26), off));
    *count = _mm256_sub_epi8(*count, _mm256_and_si256(lt, letter));
    __m256i tag = _mm256_and_si256(lt, _mm256_or_si256(EQ32(l1, 'a'), EQ32(l1, 'm')));
    __m256i word = _mm256_and_si256(
        _mm256_or_si256(_mm256_and_si256(EQ32(v0, 'm'), EQ32(v1, 'a')), _mm256_and_si256(EQ32(v0, 'B'), EQ32(v1, 'o'))),
        _mm256_or_si256(EQ32(v2, 'i'), EQ32(v2, 'd')));
    return (unsigned)_mm256_movemask_epi8(_mm256_or_si256(tag, word));
}

static inline AVX2 Py_ssize_t flush32(__m256i *count) {
    __m256i sums = _mm256_sad_epu8(*count, _mm256_setzero_si256());
    *count = _mm256_setzero_si256();
    return _mm256_extract_epi64(sums, 0) + _mm256_extract_epi64(sums, 1) + _mm256_extract_epi64(sums, 2) +
           _mm256_extract_epi64(sums, 3);
}

/* 32 two-byte characters as bytes, saturated as narrow16 does (packus works per 128-bit half: put them in order) */
static inline AVX2 __m256i narrow32(const Py_UCS2 *d) {
    __m256i packed = _mm256_packus_epi16(_mm256_loadu_si256((const __m256i *)d), _mm256_loadu_si256((const __m256i *)(d + 16)));
    return _mm256_permute4x64_epi64(packed, 0xD8);
}

#define LOAD_UCS1_32(p) _mm256_loadu_si256((const __m256i *)(p))
DEFINE_SCAN_LOOP(scan_ucs1_avx2, AVX2, Py_UCS1, __m256i, 32, LOAD_UCS1_32, scan32, flush32, _mm256_setzero_si256, hit_ucs1, scan_tail_ucs1)
DEFINE_SCAN_LOOP(scan_ucs2_avx2, AVX2, Py_UCS2, __m256i, 32, narrow32, scan32, flush32, _mm256_setzero_si256, hit_ucs2, scan_tail_ucs2)
#else
#define scan_ucs1_avx2 scan_ucs1
#define scan_ucs2_avx2 scan_ucs2
static void scan_ucs1(const Py_UCS1 *d, Py_ssize_t n, Py_ssize_t *tags, int *hints) {
    *tags = 0;
    *hints = 0;
    scan_tail_ucs1(d, n, 0, tags, hints);
}
static void scan_ucs2(const Py_UCS2 *d, Py_ssize_t n, Py_ssize_t *tags, int *hints) {
    *tags = 0;
    *hints = 0;
    scan_tail_ucs2(d, n, 0, tags, hints);
}
#endif

static void scan_ucs4(const Py_UCS4 *d, Py_ssize_t n, Py_ssize_t *tags, int *hints) { /* rare: characters beyond the BMP */
    *tags = 0;
    *hints = 0;
    scan_tail_ucs4(d, n, 0, tags, hints);
}

PyDoc_STRVAR(scan_doc, "scan(html, avx2=True) -> (number of start tags, bits of the article elements the page may have): one pass over "
                       "the page's text before parsing, for boilerplate.too_deep's tag count and blocks.mark_roots' walks "
                       "(bit i: blocks._ROOTS[i] may be in the DOM; clear: it cannot be). avx2=False: the SSE2 loop even "
                       "where the CPU has AVX2 (for the tests).");

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *text;
    int avx2 = 1;
    if (!PyArg_ParseTuple(args, "U|p", &text, &avx2))
        return NULL;
    avx2 &= have_avx2;
    ustr u;
    ustr_of(text, &u);
    Py_ssize_t tags;
    int hints;
    if (u.kind == PyUnicode_1BYTE_KIND)
        (avx2 ? scan_ucs1_avx2 : scan_ucs1)(u.data, u.len, &tags, &hints);
    else if (u.kind == PyUnicode_2BYTE_KIND)
        (avx2 ? scan_ucs2_avx2 : scan_ucs2)(u.data, u.len, &tags, &hints);
    else
        scan_ucs4(u.data, u.len, &tags, &hints);
    return Py_BuildValue("(ni)", tags, hints);
}

/* ---------------------------------------------------------------- boilerplate.select_lines */

/* blocks.width(): CJK, Hangul and full-width forms (its _WIDE regex, punctuation included) count three */
static inline int regex_wide(Py_UCS4 c) {
    return (c >= 0x1100 && c <= 0x11FF) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7AF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFFEF);
}

PyDoc_STRVAR(select_doc, "select(texts, probability, threshold, long) -> the texts kept, or None when the line rules decide\n"
                         "instead (nothing kept, or no block `long` wide): boilerplate.select_lines' model branch.");

static PyObject *select_kept(PyObject *self, PyObject *args) {
    PyObject *texts, *prob_obj;
    double threshold;
    Py_ssize_t long_width;
    if (!PyArg_ParseTuple(args, "O!Odn", &PyList_Type, &texts, &prob_obj, &threshold, &long_width))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(texts);
    Py_buffer pv;
    if (PyObject_GetBuffer(prob_obj, &pv, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (pv.len != n * (Py_ssize_t)sizeof(double)) {
        PyBuffer_Release(&pv);
        PyErr_SetString(PyExc_ValueError, "select: probability must hold len(texts) float64");
        return NULL;
    }
    const double *prob = pv.buf;
    int kept = 0, has_long = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        kept |= prob[i] >= threshold;
    for (Py_ssize_t i = 0; i < n && !has_long; i++) {
        PyObject *t = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(t)) {
            PyBuffer_Release(&pv);
            PyErr_SetString(PyExc_TypeError, "select: texts must be str");
            return NULL;
        }
        ustr u;
        ustr_of(t, &u);
        Py_ssize_t width = u.len;
        if (width < long_width && u.kind != PyUnicode_1BYTE_KIND)
            for (Py_ssize_t p = 0; p < u.len && width < long_width; p++)
                width += 2 * regex_wide(AT(&u, p));
        has_long = width >= long_width;
    }
    PyObject *out = NULL;
    if (n && (!kept || !has_long)) {
        out = Py_None;
        Py_INCREF(out);
    } else if ((out = PyList_New(0)) != NULL) {
        for (Py_ssize_t i = 0; i < n; i++)
            if (prob[i] >= threshold && PyList_Append(out, PyList_GET_ITEM(texts, i)) < 0) {
                Py_CLEAR(out);
                break;
            }
    }
    PyBuffer_Release(&pv);
    return out;
}

/* ---------------------------------------------------------------- module */

static PyObject *boilerplate_terms(PyObject *self, PyObject *unused) {
    PyObject *words = PyList_New(0), *phrases = PyList_New(0);
    if (!words || !phrases)
        goto fail;
    for (const char **w = BP_WORDS; *w; w++)
        if (append_new(words, PyUnicode_FromString(*w)) < 0)
            goto fail;
    for (const char **p = BP_PHRASES; *p; p++)
        if (append_new(phrases, PyUnicode_FromString(*p)) < 0)
            goto fail;
    if (append_new(phrases, PyUnicode_FromOrdinal(COPYRIGHT_SIGN)) < 0)
        goto fail;
    return Py_BuildValue("(NN)", words, phrases);
fail:
    Py_XDECREF(words);
    Py_XDECREF(phrases);
    return NULL;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS, parse_doc},
    {"choose_root", choose_root, METH_VARARGS, choose_root_doc},
    {"mlp", mlp, METH_VARARGS, mlp_doc},
    {"scan", scan, METH_VARARGS, scan_doc},
    {"select", select_kept, METH_VARARGS, select_doc},
    {"features", features, METH_VARARGS, features_doc},
    {"set_log1p_table", set_log1p_table, METH_O, set_log1p_table_doc},
    {"boilerplate_terms", boilerplate_terms, METH_NOARGS, "The boilerplate words and phrases compiled in (for the tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_blockfeat", "The block pass in C (see blocks.py, block_model.py).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__blockfeat(void) {
#if defined(__SSE2__)
    have_avx2 = __builtin_cpu_supports("avx2");
#endif
    build_tables();
    build_term_tables();
    for (int k = 0; k < N_TAGS; k++)
        if (!(TAG_STR[k] = PyUnicode_InternFromString(TAG_NAMES[k])))
            return NULL;
    return PyModule_Create(&module);
}
